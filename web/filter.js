/* pubmirror listing: filter rows by name as you type.  No inline code:
 * the page's Content-Security-Policy allows scripts from 'self' only. */
(function () {
	"use strict";
	var box = document.getElementById("pm-filter");
	var table = document.getElementById("pm-list");
	if (!box || !table) {
		return;
	}
	var rows = table.tBodies[0].rows;
	box.hidden = false;
	box.addEventListener("input", function () {
		var q = box.value.toLowerCase();
		for (var i = 0; i < rows.length; i++) {
			var r = rows[i];
			if (r.classList.contains("u")) {
				continue;
			}
			var name = r.cells[0].textContent;
			r.hidden = q !== "" && name.toLowerCase().indexOf(q) < 0;
		}
	});
})();
