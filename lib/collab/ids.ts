/** 128 random bits as hex; crypto.randomUUID exists only in secure contexts (not plain http on a LAN). */
export const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
