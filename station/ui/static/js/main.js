// Entry point: the boot data rendered into the page, then the application.

import { App } from "./app.js";

const boot = JSON.parse(document.getElementById("boot").textContent);
const app = new App(boot);
window.kiosk = app; // for the kiosk's own diagnostics and the browser tests
app.start();
