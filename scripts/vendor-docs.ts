/** `node scripts/vendor-docs.ts`: copies the API reference's bundle into the assets (lib/docs-bundle.ts). */
import { copyDocsBundle } from "./lib/docs-bundle.ts";

copyDocsBundle();
