/**
 * The electron-builder configuration (loaded with `--config
 * build/electron-builder.config.ts`; the "build" key left package.json): what
 * goes into the package, the installers IT deploys (per-machine NSIS and MSI,
 * DMG + zip, AppImage/deb/rpm), code signing and notarization, the Electron
 * fuses, and the update feed electron-updater's files are generated for.
 *
 * Must never hold a secret: certificates, passwords, Apple credentials and
 * update-signing keys come only from environment variables at release time
 * (build/release-dist.ts refuses a release without them). The values below that
 * read the environment are names and endpoints, never keys.
 */
import type { Configuration } from 'app-builder-lib';

/**
 * Stable installer identities. They were computed once from the appId the way
 * electron-builder derives its defaults (UUID v5), and are pinned here so a
 * renamed product or appId never breaks upgrades or IT's detection rules:
 * MSI major upgrades match on the upgrade code, and NSIS writes its uninstall
 * key under HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\{guid}.
 * Never change them.
 */
export const MSI_UPGRADE_CODE = '2399117D-8169-548C-BA3C-A0CCDF63B569';
export const NSIS_GUID = '3fd96468-a6f9-5448-bfa2-acf0350e2f6c';

/**
 * What node-gyp and the native modules' packages leave beside the .node the
 * module loads: C/C++ sources (better-sqlite3-multiple-ciphers' deps/ holds
 * all of SQLite, src/ the binding), object folders, static archives,
 * makefiles and gyp files (node-addon-api's too), and the SQLite test extension (build/Release/test_extension.node,
 * a loadable native library nobody needs). Only each module's JS and its one
 * .node stay (build/Release/<name>.node, found by `bindings` or required).
 */
const NATIVE_MODULE_DIRS = '{better-sqlite3-multiple-ciphers,keytar,@vscode/policy-watcher}';
export const NATIVE_BUILD_LEFTOVERS = [
  `!**/node_modules/${NATIVE_MODULE_DIRS}/{deps,src}{,/**}`,
  `!**/node_modules/${NATIVE_MODULE_DIRS}/build/{Makefile,config.gypi,*.mk,deps,node_gyp_bins}{,/**}`,
  `!**/node_modules/${NATIVE_MODULE_DIRS}/build/Release/{obj,obj.target,.deps}{,/**}`,
  `!**/node_modules/${NATIVE_MODULE_DIRS}/build/Release/{test_extension.node,*.a,*.o}`,
  '!**/node_modules/**/*.{c,cc,cpp,cxx,h,hh,hpp,gyp,gypi}',
];

/**
 * Windows signing from the environment: Azure Trusted Signing when its
 * endpoint is set, else signtool with the certificate electron-builder reads
 * from CSC_LINK/WIN_CSC_LINK and CSC_KEY_PASSWORD/WIN_CSC_KEY_PASSWORD. The
 * publisher name (which electron-updater checks on every downloaded update)
 * comes from CLINICIAN_WIN_PUBLISHER_NAME: exactly the certificate subject's
 * common name.
 */
function windowsSigning(env: NodeJS.ProcessEnv): Pick<NonNullable<Configuration['win']>, 'signtoolOptions' | 'azureSignOptions'> {
  const publisherName = env.CLINICIAN_WIN_PUBLISHER_NAME || null;
  if (env.AZURE_TRUSTED_SIGNING_ENDPOINT) {
    return {
      azureSignOptions: {
        publisherName: publisherName ?? '',
        endpoint: env.AZURE_TRUSTED_SIGNING_ENDPOINT,
        codeSigningAccountName: env.AZURE_TRUSTED_SIGNING_ACCOUNT ?? '',
        certificateProfileName: env.AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE ?? '',
      },
    };
  }
  return { signtoolOptions: { publisherName, signingHashAlgorithms: ['sha256'] } };
}

/** The configuration for a given environment (the default export reads process.env). */
export function electronBuilderConfig(env: NodeJS.ProcessEnv): Configuration {
  return {
    appId: 'org.clinician-desktop.app',
    productName: 'Clinician Desktop',
    directories: { output: 'dist/installers', buildResources: 'build' },
    // Only the bundles and package.json; electron-builder adds the production
    // dependencies (the three native modules and theirs) and nothing from
    // devDependencies. No source maps even if a bundler starts writing them.
    files: ['dist/electron/**', 'dist/renderer/**', 'package.json', '!**/*.map', ...NATIVE_BUILD_LEFTOVERS],
    // Debian/RPM metadata needs a homepage; package.json has none.
    extraMetadata: { homepage: 'https://clinician-desktop.org' },
    asar: true,
    // Native code cannot be loaded from inside app.asar: better-sqlite3-multiple-ciphers,
    // keytar and @vscode/policy-watcher are unpacked beside it (app.asar.unpacked).
    asarUnpack: ['**/*.node'],
    // Release builds rebuild the native modules for Electron's ABI and the
    // target arch (needs internet; see the README). Tests pass -c.npmRebuild=false.
    npmRebuild: true,
    // Set to true by the release script (build/release-dist.ts): a release
    // fails rather than produce an unsigned artifact.
    forceCodeSigning: false,
    electronFuses: {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      // We ship no browser-process V8 snapshot; turning this on without one stops the app starting.
      loadBrowserProcessSpecificV8Snapshot: false,
      // The app is served from its own protocol handler, never from file://.
      grantFileProtocolExtraPrivileges: false,
    },
    // electron-updater's feed. The URL baked into app-update.yml is never used:
    // the update service sets the feed from policy at run time. This makes
    // electron-builder write latest.yml (NSIS), latest-mac.yml (zip) and
    // latest-linux.yml (AppImage; deb/rpm are updated by IT's repositories).
    publish: [{ provider: 'generic', url: 'https://updates.invalid/clinician-desktop' }],

    win: {
      target: ['nsis', 'msi'],
      verifyUpdateCodeSignature: true,
      // Authenticode-sign the native modules and Electron's own DLLs (ffmpeg.dll,
      // libEGL.dll, libGLESv2.dll, vk_swiftshader.dll, ...) too: app.asar.unpacked
      // is outside the asar integrity check, and WDAC/AppLocker hospitals block unsigned DLLs.
      signExts: ['.node', '.dll'],
      ...windowsSigning(env),
    },
    nsis: {
      // Assisted installer forced per-machine: `Setup.exe /S` installs for all
      // users into Program Files with no prompt (run elevated: SYSTEM in Intune/SCCM).
      oneClick: false,
      perMachine: true,
      allowElevation: true,
      allowToChangeInstallationDirectory: false,
      guid: NSIS_GUID,
      // Uninstalling leaves the encrypted cache to the wipe command: its key is in the user's keychain.
      deleteAppDataOnUninstall: false,
      runAfterFinish: false,
      artifactName: '${name}-${version}-setup.${ext}',
    },
    msi: {
      oneClick: true,
      perMachine: true,
      upgradeCode: MSI_UPGRADE_CODE,
      runAfterFinish: false,
      artifactName: '${name}-${version}.${ext}',
    },

    mac: {
      target: [
        { target: 'dmg', arch: ['arm64', 'x64'] },
        // electron-updater installs macOS updates from the zip.
        { target: 'zip', arch: ['arm64', 'x64'] },
      ],
      category: 'public.app-category.medical',
      hardenedRuntime: true,
      gatekeeperAssess: false,
      // The app: JIT, camera, microphone and the Touch ID keychain group. The
      // helpers get no keychain group (restricted entitlement; only the main
      // bundle carries the provisioning profile that allows it).
      entitlements: 'build/entitlements.mac.plist',
      entitlementsInherit: 'build/entitlements.mac.inherit.plist',
      // Credentials only from APPLE_API_KEY/APPLE_API_KEY_ID/APPLE_API_ISSUER or
      // APPLE_ID/APPLE_APP_SPECIFIC_PASSWORD/APPLE_TEAM_ID (or a keychain profile).
      notarize: true,
      extendInfo: {
        NSCameraUsageDescription: 'Clinician Desktop uses the camera for video consultations.',
        NSMicrophoneUsageDescription: 'Clinician Desktop uses the microphone for video consultations.',
      },
      artifactName: '${name}-${version}-${arch}.${ext}',
    },

    linux: {
      target: ['AppImage', 'deb', 'rpm'],
      category: 'MedicalSoftware',
      executableName: 'clinician-desktop',
      maintainer: 'Clinician Desktop team <it-support@clinician-desktop.org>',
      vendor: 'Clinician Desktop team',
      synopsis: 'Desktop client for clinicians',
      description: 'Encrypted patient cache, passkey sign-in, offline charting, audited access and encrypted video consultations.',
    },
    appImage: { artifactName: '${name}-${version}-${arch}.${ext}' },
    // deb's defaults already include libsecret-1-0 (keytar); rpm's do not.
    rpm: {
      depends: ['gtk3', 'libnotify', 'nss', 'libXScrnSaver', '(libXtst or libXtst6)', 'xdg-utils', 'at-spi2-core', '(libuuid or libuuid1)', 'libsecret'],
    },
  };
}

export default electronBuilderConfig(process.env);
