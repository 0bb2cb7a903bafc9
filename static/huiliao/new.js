(function () {
  "use strict";
  var H = window.Huiliao;

  document.addEventListener("DOMContentLoaded", function () {
    var t = H.pageData().strings;
    var toggle = document.getElementById("id_use_geofence");
    var fields = document.getElementById("geofence-fields");
    var button = document.getElementById("locate-button");
    var status = document.getElementById("locate-status");
    var lat = document.getElementById("id_latitude");
    var lon = document.getElementById("id_longitude");

    function sync() { fields.hidden = !toggle.checked; }
    function showSet() {
      if (lat.value && lon.value) {
        status.textContent = H.fmt(t.location_set, {
          latitude: Number(lat.value).toFixed(5), longitude: Number(lon.value).toFixed(5),
        });
      }
    }
    toggle.addEventListener("change", sync);
    sync();
    showSet();

    button.addEventListener("click", function () {
      status.textContent = t.locating;
      button.disabled = true;
      H.locate()
        .then(function (where) {
          lat.value = where.latitude;
          lon.value = where.longitude;
          showSet();
        })
        .catch(function (err) { status.textContent = t[err.code] || t.error; })
        .finally(function () { button.disabled = false; });
    });
  });
})();
