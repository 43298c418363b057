// Builds the maas-scripts tarball (docs/protocol.md §5.3): plain ustar, integer mtimes, members in
// order.
import { pack } from 'tar-stream';

/** One tar member: path, mode, content. */
export interface TarMember {
  name: string;
  mode: number;
  content: Buffer | string;
}

/** An uncompressed tar of `members`, uid/gid 0, mtime = `now`. */
export async function buildTar(members: readonly TarMember[], now: Date): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer));
    archive.on('end', () => resolve(Buffer.concat(chunks)));
    archive.on('error', reject);
  });
  const mtime = new Date(Math.floor(now.getTime() / 1000) * 1000);
  for (const member of members) {
    const content = typeof member.content === 'string' ? Buffer.from(member.content, 'utf8') : member.content;
    archive.entry({ name: member.name, mode: member.mode, size: content.length, mtime, uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, content);
  }
  archive.finalize();
  return done;
}
