// Live countdown on "send a new code" buttons. Without JavaScript the button stays usable and the
// server answers an early click with how long to wait, so this only saves a pointless tap.
document.querySelectorAll("[data-wait]").forEach(function (button) {
  var left = parseInt(button.getAttribute("data-wait"), 10);
  var label = button.querySelector(".wait");
  if (!label || !(left > 0)) return;
  var template = label.getAttribute("data-template");
  button.disabled = true;
  var tick = function () {
    if (left <= 0) {
      button.disabled = false;
      label.textContent = "";
      return;
    }
    label.textContent = template.replace("%s", left);
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
});
