// Kept for tests that import it from the harness; the function lives in @saldo/service.
export { seededRandom } from '@saldo/service';
