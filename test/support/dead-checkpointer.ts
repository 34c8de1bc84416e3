/**
 * A checkpointer thread that ends at once without saying anything (as one
 * whose module failed to load would), for store-checkpointer.test.ts: the
 * store must take its checkpoints back and must not claim the key copy it
 * sent was zeroed. Test support only; touches no file and no key.
 */
export {};
