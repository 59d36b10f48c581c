// Tests wait the same way the services do (a start waiting for a process to stop): one implementation.
export { waitUntil } from '@saldo/service';
