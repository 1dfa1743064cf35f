/**
 * Names for ids: the departments (anyone may list them) and the users this user may list (CEO and
 * HR everyone, a manager their department, an employee nobody, so they see themselves by name and
 * others by id). Loaded once per login.
 */
import { api } from "./api.js";

const PAGE = 100;
// A console lists people to pick from, not a whole company: past this, ids stand in for names.
const MAX_PAGES = 10;

async function all(path) {
  const results = [];
  let next = `${path}?page_size=${PAGE}`;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const data = await api(next);
    results.push(...data.results);
    next = data.next;
  }
  return results;
}

export class Directory {
  constructor() {
    this.me = null;
    this.users = new Map();
    this.departments = new Map();
  }

  /** @param {{ id: number, role: string, full_name: string }} me */
  async load(me) {
    this.me = me;
    const [departments, users] = await Promise.all([
      all("/departments/"),
      me.role === "employee" ? Promise.resolve([me]) : all("/users/"),
    ]);
    this.departments = new Map(departments.map((d) => [d.id, d]));
    this.users = new Map(users.map((u) => [u.id, u]));
    this.users.set(me.id, me);
  }

  /** @param {number | null} id */
  userName(id) {
    if (id === null || id === undefined) return "—";
    const user = this.users.get(id);
    const name = user ? user.full_name || user.email : `User #${id}`;
    return id === this.me?.id ? `${name} (you)` : name;
  }

  /** @param {number | null} id */
  departmentName(id) {
    if (id === null || id === undefined) return "—";
    return this.departments.get(id)?.name ?? `Department #${id}`;
  }

  /** The users this user can pick from, by name. */
  people() {
    return [...this.users.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
  }
}
