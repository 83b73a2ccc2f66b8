// Types of scripts/server-bundle.mjs, for the tests and tools written in TypeScript.
export declare const SERVER_ENTRIES: { readonly server: 'server.ts'; readonly signaling: 'signaling/main.ts' };
export declare const SERVER_OUT_DIR: string;
export declare function bundleServer(root: string, name: keyof typeof SERVER_ENTRIES): Promise<string>;
export declare function serverArgs(root: string, name: keyof typeof SERVER_ENTRIES): Promise<string[]>;
export declare function runArgs(file: string): string[];
export declare function stopCompiler(): Promise<void>;
