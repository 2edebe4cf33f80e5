/** A problem with a source of domains that a person can act on. The message says what to do. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceError";
  }
}

/** libvirt cannot be reached at all (daemon down, socket missing, permission). */
export class LibvirtUnavailableError extends SourceError {
  constructor(
    readonly uri: string,
    readonly detail: string,
  ) {
    super(
      `libvirt is not reachable at ${uri} (${detail}): start libvirtd (or virtqemud), check --connect, or pass --source qemu`,
    );
    this.name = "LibvirtUnavailableError";
  }
}

/** The user asked for a domain that does not exist. */
export class UnknownDomainError extends SourceError {
  constructor(readonly domain: string) {
    super(`domain '${domain}' not found: list domains with 'virsh list --all' or 'vsteal domstats'`);
    this.name = "UnknownDomainError";
  }
}
