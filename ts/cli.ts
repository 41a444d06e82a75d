#!/usr/bin/env node
// The nsjs command (package.json "bin" is dist/cjs/cli.js, built from this file): the tool itself
// is ts/cli/, whose index.ts describes its commands, exit status and JSON output.
import { main } from './cli/index'

export { main }

if (require.main === module) {
  // `nsjs ls | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status
  })
}
