import { api, safePath, showError } from "/static/app.js";

const form = document.getElementById("register");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const error = form.querySelector(".error");
  error.hidden = true;
  try {
    await api("POST", "/api/v1/auth/register", {
      email: data.get("email"), password: data.get("password"),
      display_name: data.get("display_name"), roles: data.get("host") ? ["buyer", "host"] : ["buyer"],
    });
    await api("POST", "/api/v1/auth/login", { email: data.get("email"), password: data.get("password") });
    window.location.assign(safePath(form.dataset.next || "/"));
  } catch (err) {
    showError(error, err);
  }
});
