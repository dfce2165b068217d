// Builds tokens that the token command refuses to make, such as expired
// ones, by re-signing a valid development token.
import { createHmac } from 'node:crypto';

// The gateway's built-in HS256 secret under --dev (auth.DevSecret in Go).
const devSecret = 'meetgraph-development-secret-not-for-production';

const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

// expiredToken returns validToken's claims signed again with an expiry an
// hour in the past.
export function expiredToken(validToken) {
  const claims = JSON.parse(Buffer.from(validToken.split('.')[1], 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })}`;
  const signature = createHmac('sha256', devSecret).update(body).digest('base64url');

  return `${body}.${signature}`;
}
