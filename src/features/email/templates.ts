/**
 * Email templates: plain-text bodies with a subject. Task mails name the task's title in the subject.
 */
import type { EmailTemplate } from "../../platform/db/schema.ts";

export type TemplateData = {
  welcome: { fullName: string };
  task_created: { taskId: number; title: string; creatorName: string };
  task_assigned: { taskId: number; title: string; assignedByName: string };
  task_completed: { taskId: number; title: string; completedAt: string };
  upload_completed: { filename: string; rows: number; errorRows: number; seconds: number };
  upload_failed: { filename: string; reason: string };
};

export interface RenderedEmail {
  subject: string;
  body: string;
}

const renderers: { [T in EmailTemplate]: (data: TemplateData[T]) => RenderedEmail } = {
  welcome: (d) => ({
    subject: "Welcome to Edge Tasks",
    body: `Hello ${d.fullName || "there"},\n\nYour account is ready. Log in to start managing your tasks.\n`,
  }),
  task_created: (d) => ({
    subject: `Task created: ${d.title}`,
    body: `${d.creatorName} created the task "${d.title}" (#${d.taskId}).\n`,
  }),
  task_assigned: (d) => ({
    subject: `You were assigned: ${d.title}`,
    body: `${d.assignedByName} assigned you the task "${d.title}" (#${d.taskId}).\n`,
  }),
  task_completed: (d) => ({
    subject: `Task completed: ${d.title}`,
    body: `The task "${d.title}" (#${d.taskId}) was completed at ${d.completedAt}.\n`,
  }),
  upload_completed: (d) => ({
    subject: `CSV ingested: ${d.filename}`,
    body: `Your file ${d.filename} was ingested in ${d.seconds.toFixed(1)} s.\nRows stored: ${d.rows}\nRows rejected: ${d.errorRows}\n`,
  }),
  upload_failed: (d) => ({
    subject: `CSV ingestion failed: ${d.filename}`,
    body: `Your file ${d.filename} could not be ingested.\nReason: ${d.reason}\n`,
  }),
};

export function renderEmail<T extends EmailTemplate>(template: T, data: TemplateData[T]): RenderedEmail {
  return renderers[template](data);
}
