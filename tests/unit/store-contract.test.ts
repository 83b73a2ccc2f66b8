/** The shared Store contract (store-contract.ts) run against the embedded in-memory store. */
import { MemoryStore } from '../../signaling/store/memory';
import { storeContract } from './store-contract';

storeContract('MemoryStore', () => new MemoryStore());
