// `check-config`: validates an agent config file and lists every problem, one per line.
import { EXIT } from '../../shared/cli.js';
import { ConfigError, loadAgentConfig } from '../config.js';

type Out = (text: string) => void;

export async function checkConfigCommand(file: string | undefined, io: { out: Out; err: Out }): Promise<number> {
  if (file === undefined || file === '--help') {
    io.out('Usage: tsdeploy-agent check-config FILE\n');
    return file === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    const config = await loadAgentConfig(file);
    io.out(`${file}: ok (host ${config.host}, source ${config.source})\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`${file}: invalid config\n`);
    for (const problem of error.problems) io.err(`  - ${problem}\n`);
    return EXIT.failure;
  }
}
