// Reads a Parquet file with hyparquet (vendored from npm, an independent
// JavaScript implementation) and prints its rows as JSON lines, so that
// the Go test checks the exporter against a reader that is not its own.
import { readFileSync } from 'node:fs'
import { parquetReadObjects, parquetMetadata } from './hyparquet/src/index.js'

const buf = readFileSync(process.argv[2])
const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
const meta = parquetMetadata(file)
const rows = await parquetReadObjects({ file })
process.stdout.write(JSON.stringify({ num_rows: Number(meta.num_rows), row_groups: meta.row_groups.length }) + '\n')
for (const r of rows) {
  const o = {}
  for (const [k, v] of Object.entries(r)) {
    o[k] = typeof v === 'bigint' ? v.toString() : (v instanceof Date ? v.toISOString() : v)
  }
  process.stdout.write(JSON.stringify(o) + '\n')
}
