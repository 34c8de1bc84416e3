/** A platform authenticator in Chromium through CDP's WebAuthn domain (Windows Hello / Touch ID stand-in). */
import type { Page } from 'playwright-core';

export async function addVirtualAuthenticator(page: Page, options: { prf: boolean }): Promise<{ authenticatorId: string; remove(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: options.prf,
      automaticPresenceSimulation: true,
    },
  });
  return { authenticatorId, remove: async () => void (await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId })) };
}
