/** What the simulation gets for the pages' browser files (Scalar's bundle, the console): it serves no page. */
export default "";
export const CONSOLE_SCRIPT = "";
export const CONSOLE_STYLES = "";
