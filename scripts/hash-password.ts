/**
 * npm run hash-password [-- --log-n 16]: reads a password (typed without echo, or piped on stdin) and
 * prints its scrypt hash for JOINUS_AGENTS, e.g. JOINUS_AGENTS='alice:scrypt$15$8$1$…'.
 */
import { createInterface } from 'node:readline';
import { DEFAULT_SCRYPT_LOG_N, hashPassword } from '../signaling/core/passwords';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Typed characters are not echoed: only the prompt is written.
  const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl);
  let prompted = false;
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (!prompted) write(s);
  };
  const answer = await new Promise<string>((resolve) => {
    rl.question('Password: ', resolve);
    prompted = true;
  });
  rl.close();
  process.stderr.write('\n');
  return answer;
}

async function main(): Promise<void> {
  const logN = Number(option('--log-n') ?? DEFAULT_SCRYPT_LOG_N);
  if (!Number.isInteger(logN) || logN < 10 || logN > 20) {
    console.error('--log-n must be a whole number from 10 to 20 (scrypt N = 2^log-n).');
    process.exit(2);
  }
  const password = await readPassword();
  if (password.length === 0) {
    console.error('The password is empty.');
    process.exit(2);
  }
  if (password.includes(',')) {
    console.error('JOINUS_AGENTS separates accounts with commas: choose a password without one.');
    process.exit(2);
  }
  console.log(await hashPassword(password, logN));
}

void main();
