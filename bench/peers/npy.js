// Reads the .npy files that make_inputs.py writes (little-endian float32 or
// int64, C order) into onnxruntime-node tensors.
const fs = require('fs');

function readNpy(path, ort) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  // Copy: the payload offset need not be aligned for a typed array view.
  const bytes = new Uint8Array(buf.subarray(start)).buffer;
  if (descr === '<f4') return new ort.Tensor('float32', new Float32Array(bytes), dims);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(bytes), dims);
  throw new Error(`${path}: dtype ${descr} is not float32 or int64`);
}

module.exports = { readNpy };
