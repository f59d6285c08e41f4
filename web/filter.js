/* pubmirror listing: filter rows by name as you type (the count follows),
 * and a copy button beside each SHA-256.  No inline code: the page's
 * Content-Security-Policy allows scripts from 'self' only.  Without
 * script the page is complete: the digests are text in <details>. */
(function () {
	"use strict";
	var box = document.getElementById("pm-filter");
	var table = document.getElementById("pm-list");
	var total = document.getElementById("pm-total");
	if (!box || !table) {
		return;
	}
	var rows = table.tBodies[0].rows;
	var all = total ? total.textContent : "";
	box.hidden = false;
	box.addEventListener("input", function () {
		var q = box.value.toLowerCase();
		var shown = 0, n = 0;
		for (var i = 0; i < rows.length; i++) {
			var r = rows[i];
			if (r.classList.contains("u")) {
				continue;
			}
			var a = r.cells[0].querySelector("a");
			var name = a ? a.textContent : r.cells[0].textContent;
			n++;
			r.hidden = q !== "" && name.toLowerCase().indexOf(q) < 0;
			if (!r.hidden) {
				shown++;
			}
		}
		if (total) {
			total.textContent = q === "" ? all :
				shown + " of " + n + " entr" + (n === 1 ? "y" : "ies") + " match";
		}
	});
	if (!navigator.clipboard) {
		return;
	}
	var codes = table.querySelectorAll("details code");
	for (var k = 0; k < codes.length; k++) {
		(function (code) {
			var b = document.createElement("button");
			b.type = "button";
			b.className = "pm-copy";
			b.textContent = "Copy";
			b.addEventListener("click", function () {
				navigator.clipboard.writeText(code.textContent).then(function () {
					b.textContent = "Copied";
				}, function () {
					b.textContent = "Select and copy";
				});
			});
			code.parentNode.appendChild(b);
		})(codes[k]);
	}
})();
