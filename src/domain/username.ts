const USERNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,34}[A-Za-z0-9])?$/;

/**
 * The username rule for new names (spec §2.1): 1-36 ASCII letters, digits or hyphens, starting
 * and ending with a letter or digit. Existing names that break it stay addressable.
 */
export function isValidUsername(username: string): boolean {
  return USERNAME.test(username);
}
