# pubmirror - build, run, test, install.
#
#   make            build build/pubmirrord
#   make run        build and serve mirror-root/ in the foreground
#   make check      unit + end-to-end tests; ends with "N passed, N failed"
#   make asan       the same tests on an ASan+UBSan build
#   make tsan       the concurrency tests on a ThreadSanitizer build
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make analyze    cppcheck and clang-tidy
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install missing build dependencies (apt-get/dnf)
#
# WERROR=0 turns warnings back into warnings (for packagers).

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
WERROR   ?= 1
BUILD    ?= build
SAN      ?=
FUZZ_SECONDS ?= 30

PKGS     := openssl libmicrohttpd gnutls zlib libcurl json-c libcmark
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null)
SECCOMP_CFLAGS := $(if $(SECCOMP_LIBS),-DHAVE_SECCOMP=1,)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wimplicit-fallthrough -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN_CFLAGS := -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now
ifeq ($(SAN),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
HARDEN_CFLAGS := -fPIE
SANLD := -fsanitize=address,undefined
else ifeq ($(SAN),tsan)
OPT := -O1 -g -fsanitize=thread
HARDEN_CFLAGS := -fPIE
SANLD := -fsanitize=thread
else
OPT ?= -O2 -g
SANLD :=
endif

CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN_CFLAGS) \
	$(PKG_CFLAGS) $(SECCOMP_CFLAGS) -iquote daemon -I$(BUILD) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) $(SECCOMP_LIBS) -lcrypt -lpthread $(LDLIBS)
LDFLAGS_ALL := $(HARDEN_LDFLAGS) $(SANLD) $(LDFLAGS)

SRCS  := $(wildcard daemon/*.c)
OBJS  := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIBOBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/%,$(UNIT_SRCS))
WEB_FILES := $(sort $(wildcard web/*))

.PHONY: all run check unit e2e asan tsan fuzz analyze install clean deps \
	format format-check bench bench-smoke sample lint

all: $(BUILD)/pubmirrord

$(BUILD)/obj/%.o: daemon/%.c $(wildcard daemon/*.h) $(BUILD)/web_assets.h | $(BUILD)/obj
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj:
	mkdir -p $@

# web/ is compiled into the binary: one C array per file.
$(BUILD)/web_assets.h: $(WEB_FILES) tests/tools/embed.sh | $(BUILD)/obj
	sh tests/tools/embed.sh $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/libpm.a: $(LIBOBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pubmirrord: $(BUILD)/obj/main.o $(BUILD)/libpm.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/test_%: tests/unit/test_%.c tests/unit/unit.h $(BUILD)/libpm.a
	$(CC) $(CFLAGS_ALL) -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libpm.a $(LDLIBS_ALL)

# Installs missing build dependencies first (a no-op when all are present),
# then builds in a fresh make so that pkg-config sees them.
run:
	sh tests/tools/deps.sh
	$(MAKE) $(BUILD)/pubmirrord
	./$(BUILD)/pubmirrord -f -c conf/pubmirror.conf

# The test command of the README: the whole suite, then (SANITIZERS=1, the
# default) the whole suite again on an ASan+UBSan build and the concurrency
# tests on a ThreadSanitizer build.  `make check SANITIZERS=0` for a quick run.
SANITIZERS ?= 1
# Like `make run`, it first installs the test dependencies that are missing
# (or, without root or sudo, stops at once naming them and the command).
check:
	sh tests/tools/deps.sh --test
	$(MAKE) $(BUILD)/pubmirrord $(UNIT_BINS) lint format-check
	BUILD=$(BUILD) SANITIZERS=$(SANITIZERS) sh tests/run.sh

unit: $(UNIT_BINS)
	BUILD=$(BUILD) ONLY=unit sh tests/run.sh

asan:
	$(MAKE) BUILD=build-asan SAN=asan build-asan/pubmirrord $(patsubst build/%,build-asan/%,$(UNIT_BINS))
	BUILD=build-asan ONLY=asan sh tests/run.sh

tsan:
	$(MAKE) BUILD=build-tsan SAN=tsan $(patsubst build/%,build-tsan/%,$(UNIT_BINS)) build-tsan/pubmirrord
	BUILD=build-tsan ONLY=tsan sh tests/run.sh

# Source rules that a grep can prove (STYLE.md, "Rules a script checks"),
# then the layer rules proved on the objects (STYLE.md, "Layers").
lint: $(BUILD)/pubmirrord
	sh tests/tools/lint.sh
	sh tests/tools/layers.sh $(BUILD)
	sh tests/tools/unused.sh $(BUILD)

sample: $(BUILD)/pubmirrord
	./$(BUILD)/pubmirrord --dump-config > conf/pubmirror.conf

fuzz:
	$(MAKE) -C tests/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

analyze: $(BUILD)/web_assets.h
	cppcheck --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem -D_GNU_SOURCE -Idaemon -I$(BUILD) -q daemon
	clang-tidy --quiet daemon/*.c -- -std=c11 -D_GNU_SOURCE -iquote daemon -I$(BUILD) $(PKG_CFLAGS)

# .clang-format (STYLE.md, convention 9); format-check is part of check.
FORMAT_FILES = daemon/*.c daemon/*.h tests/unit/*.c tests/unit/*.h
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

bench:
	sh tests/bench/run.sh

bench-smoke:
	sh tests/bench/run.sh --smoke

deps:
	sh tests/tools/deps.sh

install: $(BUILD)/pubmirrord
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/pubmirror \
		$(DESTDIR)/etc/pubmirror $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/pubmirrord $(DESTDIR)$(PREFIX)/sbin/pubmirrord
	# The production configuration (every address on 21, 990, 443 and 80,
	# /srv/mirror, /var/log/pubmirror), generated from the config table;
	# an existing configuration is kept and the new one goes beside it.
	./$(BUILD)/pubmirrord --production-config > $(BUILD)/pubmirror.conf.production
	if [ -e $(DESTDIR)/etc/pubmirror/pubmirror.conf ]; then \
		install -m 0644 $(BUILD)/pubmirror.conf.production $(DESTDIR)/etc/pubmirror/pubmirror.conf.dist; \
	else \
		install -m 0644 $(BUILD)/pubmirror.conf.production $(DESTDIR)/etc/pubmirror/pubmirror.conf; \
	fi
	install -d $(DESTDIR)/etc/logrotate.d $(DESTDIR)$(PREFIX)/share/doc/pubmirror/fail2ban
	install -m 0644 conf/logrotate.pubmirror $(DESTDIR)/etc/logrotate.d/pubmirror
	cp -R conf/fail2ban/. $(DESTDIR)$(PREFIX)/share/doc/pubmirror/fail2ban/
	install -d $(DESTDIR)$(PREFIX)/share/doc/pubmirror/prometheus $(DESTDIR)$(PREFIX)/share/doc/pubmirror/grafana
	install -m 0644 conf/prometheus/*.yml $(DESTDIR)$(PREFIX)/share/doc/pubmirror/prometheus/
	install -m 0644 conf/grafana/*.json $(DESTDIR)$(PREFIX)/share/doc/pubmirror/grafana/
	./$(BUILD)/pubmirrord --man 8 > $(DESTDIR)$(PREFIX)/share/man/man8/pubmirrord.8
	./$(BUILD)/pubmirrord --man 5 > $(DESTDIR)$(PREFIX)/share/man/man5/pubmirror.conf.5
	if [ -f conf/pubmirrord.service ]; then sed 's|@PREFIX@|$(PREFIX)|g' conf/pubmirrord.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/pubmirrord.service; fi

clean:
	rm -rf build build-asan build-tsan tests/fuzz/build
