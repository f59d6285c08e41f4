/* test_limits.c - the descriptor budget of limits.h: one descriptor per
 * client plus two per transfer, so that 10,000 idle sessions fit under a
 * hard RLIMIT_NOFILE of 20,000 once the transfers are bounded. */
#include "limits.h"
#include "unit.h"

int main(void)
{
	CHECK_INT("max_transfers 0 means max_clients", 2000, (int)pm_max_transfers(2000, 0));
	CHECK_INT("max_transfers above max_clients is max_clients", 50,
	          (int)pm_max_transfers(50, 100));
	CHECK_INT("max_transfers below max_clients stays", 1000,
	          (int)pm_max_transfers(17936, 1000));
	CHECK_INT("max_clients 0 (unlimited), max_transfers 0: no bound", 0,
	          (int)pm_max_transfers(0, 0));
	CHECK_INT("max_clients 0 (unlimited) keeps a max_transfers bound", 300,
	          (int)pm_max_transfers(0, 300));
	CHECK_INT("default: three per client plus the spare", 2000 * 3 + PM_FDS_SPARE,
	          (int)pm_fds_needed(2000, 0, 0, 0));
	CHECK_INT("one per client plus two per transfer", 10000 + 2 * 1000 + PM_FDS_SPARE,
	          (int)pm_fds_needed(10000, 1000, 0, 0));
	CHECK_INT("refusal slots of one FTP loop and the HTTP daemons",
	          2000 * 3 + 2 * 250 + PM_FDS_SPARE, (int)pm_fds_needed(2000, 0, 2, 0));
	CHECK_INT("refusal slots: an eighth of max_clients", 2, (int)pm_refusing_max(20));
	CHECK_INT("refusal slots: at most PM_REFUSING_MAX", PM_REFUSING_MAX,
	          (int)pm_refusing_max(100000));
	CHECK_INT("refusal slots: at least one", 1, (int)pm_refusing_max(3));
	CHECK_INT("PROXY headers waiting on a proxied listener",
	          2000 * 3 + PM_PROXY_PENDING + PM_FDS_SPARE, (int)pm_fds_needed(2000, 0, 0, 1));
	CHECK("10,000 clients with 1,000 transfers fit under 20,000",
	      pm_fds_needed(10000, 1000, 2, 0) <= 20000);
	CHECK("10,000 clients at three each do not", pm_fds_needed(10000, 0, 0, 0) > 20000);
	CHECK_INT("max_clients 0: the whole hard limit", 0, (int)pm_fds_needed(0, 100, 2, 1));
	CHECK("no overflow at the largest configurable values",
	      pm_fds_needed(1000000, 1000000, 0, 0) == 3000000ull + PM_FDS_SPARE);
	return unit_done();
}
