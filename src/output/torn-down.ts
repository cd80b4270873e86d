/** The committed marker of a torn-down mesh (`meshgen teardown`), in the work directory: synth then writes the torn-down
 * tree (every stage directory and entry point kept, with nothing in them to apply; see `synth`). */
export const TEARDOWN_FILE = 'teardown.yaml';
