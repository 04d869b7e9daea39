// Records the consent statement in the browser (getUserMedia + MediaRecorder), shows it back, and puts
// it into the form's file input, so that "Send my statement" uploads it like a chosen file. Without
// JavaScript, or without a camera API, the file input (with `capture`) does the same job.
(function () {
  var box = document.getElementById("recorder");
  var input = document.getElementById("id_recording");
  if (!box || !input || !navigator.mediaDevices || !window.MediaRecorder || !window.DataTransfer) return;
  var wantVideo = box.getAttribute("data-video") === "1";
  var maxSeconds = parseFloat(box.getAttribute("data-max-seconds"));
  var minSeconds = parseFloat(box.getAttribute("data-min-seconds"));
  var live = document.getElementById("recorder-live");
  var preview = document.getElementById("recorder-preview");
  var start = document.getElementById("recorder-start");
  var stop = document.getElementById("recorder-stop");
  var status = document.getElementById("recorder-status");
  var text = function (name, value) {
    return box.getAttribute("data-text-" + name).replace("%s", value);
  };
  var stream = null, recorder = null, chunks = [], started = 0, timer = null, limit = null;

  function finish() {
    clearInterval(timer);
    clearTimeout(limit);
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    navigator.mediaDevices.getUserMedia({ audio: true, video: wantVideo ? { width: 640, height: 480 } : false })
      .then(function (media) {
        stream = media;
        if (wantVideo) {
          live.srcObject = stream;
          live.hidden = false;
          live.play();
        }
        chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = function (event) { if (event.data.size) chunks.push(event.data); };
        recorder.onstop = function () {
          var seconds = Math.round((Date.now() - started) / 100) / 10;
          stream.getTracks().forEach(function (track) { track.stop(); });
          live.hidden = true;
          stop.hidden = true;
          start.hidden = false;
          start.disabled = false;
          var type = (recorder.mimeType || (wantVideo ? "video/webm" : "audio/webm")).split(";")[0];
          var blob = new Blob(chunks, { type: type });
          preview.src = URL.createObjectURL(blob);
          preview.hidden = false;
          if (seconds < minSeconds) {
            status.textContent = text("short", seconds);
            input.value = "";
            return;
          }
          var ext = type.indexOf("mp4") >= 0 ? "mp4" : (type.indexOf("ogg") >= 0 ? "ogg" : "webm");
          var transfer = new DataTransfer();
          transfer.items.add(new File([blob], "statement." + ext, { type: type }));
          input.files = transfer.files;
          status.textContent = text("done", seconds);
        };
        recorder.start(1000);
        started = Date.now();
        start.hidden = true;
        stop.hidden = false;
        stop.focus();
        status.textContent = text("recording", 0);
        timer = setInterval(function () {
          status.textContent = text("recording", Math.round((Date.now() - started) / 1000));
        }, 1000);
        limit = setTimeout(finish, maxSeconds * 1000);
      })
      .catch(function () {
        start.disabled = false;
        status.textContent = text("denied", "");
      });
  });
  stop.addEventListener("click", finish);
  box.hidden = false;
})();
