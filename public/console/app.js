/**
 * The console's wiring: login, the address-driven views (Tasks, a task, CSV uploads), the task
 * status report and the create form. Each concern lives in its own module; this one only
 * connects them to the page.
 */
import { api, session } from "./api.js";
import { Directory } from "./directory.js";
import { $, onSubmit } from "./dom.js";
import { NotificationBell } from "./notifications.js";
import { downloadReport, refreshReport } from "./report.js";
import { parseRoute, taskHash } from "./router.js";
import { TaskForm } from "./task-form.js";
import { TaskPage } from "./task-page.js";
import { TasksList } from "./tasks-list.js";
import { initUploads, resetUploads, showUploads } from "./uploads-view.js";

function showError(error) {
  const message = $("message");
  message.textContent = error instanceof Error ? error.message : String(error);
  message.hidden = false;
}

function clearError() {
  $("message").hidden = true;
}

const directory = new Directory();
const reportCells = { total: $("report-total"), completed: $("report-completed"), incomplete: $("report-incomplete") };
const report = () => refreshReport(reportCells).catch(showError);

const list = new TasksList({
  form: $("task-filters"),
  table: $("tasks-table"),
  summary: $("tasks-summary"),
  prev: $("tasks-prev"),
  next: $("tasks-next"),
  directory,
  onError: showError,
});

// The list the user last looked at (filters, page): where "All tasks" and a deleted task go back to.
let lastList = "#/tasks";

const taskPage = new TaskPage({
  directory,
  onChanged: report,
  onDeleted: () => {
    location.hash = lastList;
  },
});

const createForm = new TaskForm($("create-form"), {
  prefix: "new",
  mode: "create",
  directory,
  submitLabel: "Create task",
});

initUploads({ showError, clearError });

const bell = new NotificationBell({ onError: showError });

// ---- views -----------------------------------------------------------------------------------

let loggedIn = false;

async function route() {
  if (!loggedIn) return;
  clearError();
  const target = parseRoute(location.hash);
  const tasksArea = target.view !== "uploads";
  $("tasks-area").hidden = !tasksArea;
  $("tasks-view").hidden = target.view !== "tasks";
  $("task-view").hidden = target.view !== "task";
  $("workspace").hidden = target.view !== "uploads";
  $("nav-tasks").toggleAttribute("aria-current", tasksArea);
  if (tasksArea) $("nav-tasks").setAttribute("aria-current", "page");
  $("nav-uploads").toggleAttribute("aria-current", !tasksArea);
  if (!tasksArea) $("nav-uploads").setAttribute("aria-current", "page");
  document.title = `${target.view === "uploads" ? "CSV uploads" : "Tasks"} · Edge Tasks console`;
  if (target.view === "tasks") {
    lastList = location.hash || "#/tasks";
    // Others change tasks too: the numbers are asked again with the list (the API caches them).
    await Promise.all([list.show(target.params), report()]);
  } else if (target.view === "task") {
    $("back-to-list").href = lastList;
    await taskPage.show(target.id);
  } else await showUploads();
}

window.addEventListener("hashchange", () => route());

// ---- session ---------------------------------------------------------------------------------

async function showLoggedIn() {
  // The stored user may be out of date (a role or department changed): ask who this is now.
  const me = await api("/auth/user/me/");
  session.saveUser(me);
  await directory.load(me);
  $("who").textContent = me.email;
  $("login-section").hidden = true;
  $("account").hidden = false;
  $("sections").hidden = false;
  list.setDepartments([...directory.departments.values()]);
  createForm.build();
  loggedIn = true;
  // The bell is news, not the page: it must not keep the page from showing if it fails.
  bell.start().catch(showError);
  const first = parseRoute(location.hash).view;
  await Promise.all([route(), first === "tasks" ? null : report()]);
}

function showLoggedOut() {
  loggedIn = false;
  bell.stop();
  resetUploads();
  $("login-section").hidden = false;
  $("account").hidden = true;
  $("sections").hidden = true;
  $("tasks-area").hidden = true;
  $("workspace").hidden = true;
}

window.addEventListener("console:unauthorized", () => {
  session.clear();
  showLoggedOut();
});

onSubmit($("login-form"), async () => {
  clearError();
  try {
    const login = await api("/auth/user/login/", {
      json: { email: $("email").value.trim(), password: $("password").value },
    });
    session.save(login);
    $("password").value = "";
    await showLoggedIn();
  } catch (error) {
    showError(error);
  }
});

$("logout").addEventListener("click", async () => {
  await api("/auth/user/logout/", { method: "POST" }).catch(() => {});
  session.clear();
  showLoggedOut();
});

$("report").addEventListener("click", async () => {
  clearError();
  await downloadReport().catch(showError);
});

// The skip link moves focus without touching the address (the address is the view).
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  $("main").focus();
});

// ---- create ----------------------------------------------------------------------------------

function toggleCreate(open) {
  $("create-panel").hidden = !open;
  $("new-task").setAttribute("aria-expanded", String(open));
  $("new-task").textContent = open ? "Close" : "New task";
  $("new-task").classList.toggle("secondary", open);
  if (open) createForm.controls.title.focus();
}

$("create-panel").addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  toggleCreate(false);
  $("new-task").focus();
});

$("new-task").addEventListener("click", () => toggleCreate($("create-panel").hidden));

onSubmit($("create-form"), async () => {
  createForm.clearErrors();
  createForm.busy(true);
  try {
    const task = await api("/tasks/", { json: createForm.values() });
    createForm.build();
    toggleCreate(false);
    report();
    location.hash = taskHash(task.id);
  } catch (error) {
    createForm.showError(error);
  } finally {
    createForm.busy(false);
  }
});

// ---- start -----------------------------------------------------------------------------------

if (session.token) {
  // A token from earlier in this tab: confirm it still works (a 401 brings the login back).
  showLoggedIn().catch(() => showLoggedOut());
} else showLoggedOut();
