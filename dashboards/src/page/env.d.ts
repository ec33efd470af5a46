// Stylesheets imported by the page are bundled by esbuild (src/build-page.ts).
declare module '*.css'
