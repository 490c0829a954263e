/* Small enhancements of the pages; every page also works without them.
 * - Upload: drag a file onto the drop zone (or pick it), preview its first rows, upload with a
 *   progress bar (XMLHttpRequest upload events), then go to the list's page.
 *   The upload button stays disabled while the preview shows an error that refuses the file.
 * - Copy buttons: data-copy="<selector>" copies that field's text.
 */
(function () {
  "use strict";

  var PREVIEW_BYTES = 256 * 1024;

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function formatBytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " bytes";
  }

  function setupUpload(form) {
    var zone = form.querySelector("#dropzone");
    var input = form.querySelector("#id_file");
    var chosen = form.querySelector("#chosen-file");
    var encoding = form.querySelector("#id_encoding");
    var button = form.querySelector("#upload-button");
    var progressBox = form.querySelector("#upload-progress");
    var bar = progressBox.querySelector(".progress");
    var fill = progressBox.querySelector(".progress-fill");
    var progressText = progressBox.querySelector(".upload-progress-text");
    var errorBox = form.querySelector("#upload-error");
    var previewSlot = document.getElementById("preview");
    var flowSelect = form.querySelector("#id_flow");
    var file = null;

    // A file the preview already refuses would only be refused again after its upload.
    function showPreview(html) {
      previewSlot.innerHTML = html;
      var fatal = previewSlot.querySelector("[data-fatal]");
      button.disabled = !!fatal;
    }

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = !message;
    }

    function choose(newFile) {
      file = newFile || null;
      showError("");
      zone.classList.toggle("has-file", !!file);
      chosen.textContent = file ? file.name + " (" + formatBytes(file.size) + ")" : "";
      if (file) preview(false);
      else showPreview("");
    }

    // mapped: the manager changed what a column is; send the choices so the preview reads them.
    function preview(mapped) {
      if (!file) return;
      var isZip = /\.zip$/i.test(file.name);
      if (isZip && file.size > 5 * 1048576) {
        showPreview("<p class='hint'>The preview of a large ZIP shows on the list's page once it is uploaded.</p>");
        return;
      }
      // Only the start of a CSV is needed to show its first rows.
      var part = isZip ? file : file.slice(0, PREVIEW_BYTES);
      var data = new FormData();
      data.append("file", part, file.name);
      data.append("filename", file.name);
      data.append("encoding", encoding ? encoding.value : "");
      data.append("flow", flowSelect ? flowSelect.value : "");
      if (mapped === true) {
        data.append("mapped", "1");
        previewSlot.querySelectorAll("[name^='map-'], [name^='mapcell-']").forEach(function (field) {
          data.append(field.name, field.value);
        });
      }
      fetch(form.dataset.previewUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: {"X-CSRFToken": csrfToken(form)}
      }).then(function (response) {
        // A redirect here is to the login page: the session has ended.
        return response.ok && !response.redirected ? response.text() : Promise.reject(response.status);
      }).then(function (html) {
        showPreview(html);
      }).catch(function () {
        showPreview("<p class='hint'>No preview available; the import will still check every row.</p>");
      });
    }

    input.addEventListener("change", function () {
      choose(input.files && input.files[0]);
    });
    if (encoding) encoding.addEventListener("change", function () { preview(!!previewSlot.querySelector("[data-map]")); });
    if (flowSelect) flowSelect.addEventListener("change", function () { preview(false); });
    previewSlot.addEventListener("change", function (event) {
      if (event.target.matches("[data-map]")) preview(true);
    });

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("is-dragover");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      if (files.length > 1) {
        showError("Drop one file at a time (put several CSVs in one .zip).");
        return;
      }
      try {
        // Keep the input in step, so the plain form post works too.
        input.files = files;
      } catch (ignored) { /* older browsers: the XHR upload below uses `file` */ }
      choose(files[0]);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!file) {
        showError("Choose a .csv or .zip file to upload.");
        input.focus();
        return;
      }
      if (previewSlot.querySelector("[data-fatal]")) {
        showError("The preview above says why this file would be refused; fix it and choose it again.");
        return;
      }
      var data = new FormData(form);
      data.set("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
      xhr.setRequestHeader("Accept", "application/json");
      progressBox.hidden = false;
      button.disabled = true;
      showError("");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var percent = Math.floor(e.loaded * 100 / e.total);
        fill.style.width = percent + "%";
        bar.setAttribute("aria-valuenow", percent);
        progressText.textContent = "Uploading… " + percent + "% (" + formatBytes(e.loaded) + " of " + formatBytes(e.total) + ")";
      });
      xhr.upload.addEventListener("load", function () {
        fill.style.width = "100%";
        bar.setAttribute("aria-valuenow", 100);
        progressText.textContent = "Uploaded; starting the import…";
      });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { /* not JSON */ }
        if (xhr.status === 201 && answer.url) {
          window.location.assign(answer.url);
          return;
        }
        button.disabled = false;
        progressBox.hidden = true;
        if (/\/login\//.test(xhr.responseURL || "")) showError("Your session has ended; log in again, then upload the file.");
        else if (xhr.status === 413) showError(answer.error || "The file is larger than the server accepts.");
        else if (xhr.status === 403) showError("The form has expired; reload the page and try again.");
        else showError(answer.error || "The upload failed (" + xhr.status + "); try again.");
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        progressBox.hidden = true;
        showError("The upload was interrupted; check the connection and try again.");
      });
      xhr.send(data);
    });
  }

  function setupCopy(button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.dataset.copy);
      var status = button.parentNode.querySelector(".copy-status");
      if (!field) return;
      var text = "value" in field ? field.value : field.textContent.trim();
      function done(ok) {
        if (status) status.textContent = ok ? "Copied." : "Select the text and copy it with Ctrl+C.";
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      } else if (typeof field.select === "function") {
        field.focus();
        field.select();
        try { done(document.execCommand("copy")); } catch (e) { done(false); }
      } else {
        // Text in a <code>: select it, so that Ctrl+C (or the copy command) takes it.
        var range = document.createRange();
        range.selectNodeContents(field);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { done(document.execCommand("copy")); } catch (e) { done(false); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) setupUpload(form);
    document.querySelectorAll("[data-copy]").forEach(setupCopy);
    document.documentElement.dataset.js = "ready";
  });
})();
