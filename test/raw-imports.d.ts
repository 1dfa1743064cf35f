/** Vite (which runs the tests) imports a file as its text with the `?raw` suffix. */
declare module "*?raw" {
  const text: string;
  export default text;
}
