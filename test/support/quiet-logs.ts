/** Set-up of every test file in the Workers runtime: the job's routine log lines stay out of the output (logs.ts). */
import { quietLogs } from "./logs";

quietLogs();
