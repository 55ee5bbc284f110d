/**
 * Loads the optional `koffi` dependency (foreign function calls from Node),
 * used only by the providers that talk to a device driver or a vendor library
 * (nitro's /dev/nsm ioctl, NVML). Nothing else needs a native binary, so a
 * machine without koffi runs every other provider.
 */

/** Imports koffi; throws what the import threw (the caller turns it into its own catalogue error). */
export async function importKoffi<K>(): Promise<K> {
  // A variable specifier keeps tsc from treating koffi as a required dependency.
  const name = 'koffi';
  const module = (await import(name)) as { default?: K } & K;
  return module.default ?? module;
}
