/** Process entry for the CLI (bin/hsmkit imports the built copy; tests run this file with tsx). */
import { main } from './main.js';

process.exitCode = await main(process.argv);
