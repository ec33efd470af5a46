// Stylesheets imported by the page are bundled by esbuild (src/build-page.ts).
declare module '*.css'

/** The metrics API's longest range in days (the collector's MAX_RANGE_DAYS), set by src/build-page.ts. */
declare const DAA_MAX_RANGE_DAYS: number
