/** signaling/config.ts: every environment variable, its default, and a clear error for bad values. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseAgents, parseAgentsFile } from '../../signaling/config';
import { builtInForms } from '../../features/forms/catalog';

/** An environment with just these variables (Next's types make NODE_ENV required on ProcessEnv). */
const load = (vars: Record<string, string>) => loadConfig(vars as NodeJS.ProcessEnv);

describe('loadConfig', () => {
  it('gives the documented defaults with an empty environment', () => {
    expect(load({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      agents: new Map([['agent', 'agent']]),
      demoAgent: true,
      plaintextAgents: [],
      trustProxy: null,
      allowedOrigins: [],
      helpEmbedOrigins: [],
      proofSteps: 800,
      lobby: false,
      handleTtlMs: 15 * 60_000,
      graceMs: 30_000,
      nodeLeaseMs: 10_000,
      iceServers: [],
      turn: null,
      iceTransportPolicy: 'all',
      frameCheck: true,
      forms: builtInForms,
      redisUrl: null,
      redisPrefix: 'joinus',
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const c = load({
      PORT: '8080',
      HOST: '127.0.0.1',
      JOINUS_AGENTS: 'alice:secret,bob:pa:ss',
      JOINUS_HANDLE_TTL_MS: '60000',
      JOINUS_GRACE_MS: '5000',
      JOINUS_ICE_SERVERS: '[{"urls":"stun:stun.example.org:3478"},{"urls":["turn:t.example.org"],"username":"u","credential":"p"}]',
      JOINUS_TURN_URLS: 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349',
      JOINUS_TURN_SECRET: 'coturn-static-auth-secret',
      JOINUS_TURN_TTL_MS: '3600000',
      JOINUS_ICE_TRANSPORT_POLICY: 'relay',
      JOINUS_FRAME_CHECK: 'off',
      JOINUS_TRUST_PROXY: '1',
      JOINUS_ALLOWED_ORIGINS: 'https://pages.example.com, http://localhost:3001',
      JOINUS_POW_STEPS: '200',
      JOINUS_HELP_EMBED_ORIGINS: 'https://www.example.com',
      JOINUS_LOBBY: 'on',
      REDIS_URL: 'redis://localhost:6379',
      LOG_LEVEL: 'debug',
    });
    expect(c).toEqual({
      port: 8080,
      host: '127.0.0.1',
      agents: new Map([
        ['alice', 'secret'],
        ['bob', 'pa:ss'],
      ]),
      demoAgent: false,
      plaintextAgents: ['alice', 'bob'],
      trustProxy: 1,
      allowedOrigins: ['https://pages.example.com', 'http://localhost:3001'],
      helpEmbedOrigins: ['https://www.example.com'],
      proofSteps: 200,
      lobby: true,
      handleTtlMs: 60_000,
      graceMs: 5_000,
      nodeLeaseMs: 10_000,
      iceServers: [
        { urls: 'stun:stun.example.org:3478' },
        { urls: ['turn:t.example.org'], username: 'u', credential: 'p' },
      ],
      turn: {
        urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
        secret: 'coturn-static-auth-secret',
        ttlMs: 3_600_000,
      },
      iceTransportPolicy: 'relay',
      frameCheck: false,
      forms: builtInForms,
      redisUrl: 'redis://localhost:6379',
      redisPrefix: 'joinus',
      logLevel: 'debug',
    });
  });

  it('[TURN] JOINUS_TURN_URLS and JOINUS_TURN_SECRET come together, as turn:/turns: URLs, with a default lifetime', () => {
    expect(load({ JOINUS_TURN_URLS: 'turn:127.0.0.1:3478', JOINUS_TURN_SECRET: 's' }).turn).toEqual({
      urls: ['turn:127.0.0.1:3478'],
      secret: 's',
      ttlMs: 4 * 60 * 60_000,
    });
    expect(() => load({ JOINUS_TURN_URLS: 'turn:127.0.0.1:3478' })).toThrow(/JOINUS_TURN_SECRET is not/);
    expect(() => load({ JOINUS_TURN_SECRET: 's' })).toThrow(/JOINUS_TURN_URLS is not/);
    for (const bad of ['stun:127.0.0.1', 'http://x', 'turn:', 'turn:user@host', 'turn:h?transport=sctp', 'turn:a b']) {
      expect(() => load({ JOINUS_TURN_URLS: bad, JOINUS_TURN_SECRET: 's' }), bad).toThrow(/^JOINUS_TURN_URLS: URL 1 is not/);
    }
    expect(() => load({ JOINUS_TURN_URLS: 'turn:h', JOINUS_TURN_SECRET: 's', JOINUS_TURN_TTL_MS: '10' })).toThrow(ConfigError);
  });

  it('[TURN] relay-only mode needs a TURN server to relay through', () => {
    expect(() => load({ JOINUS_ICE_TRANSPORT_POLICY: 'relay' })).toThrow(/JOINUS_ICE_TRANSPORT_POLICY=relay needs a TURN server/);
    expect(() =>
      load({ JOINUS_ICE_TRANSPORT_POLICY: 'relay', JOINUS_ICE_SERVERS: '[{"urls":"stun:stun.example.org"}]' }),
    ).toThrow(/needs a TURN server/);
    expect(
      load({
        JOINUS_ICE_TRANSPORT_POLICY: 'relay',
        JOINUS_ICE_SERVERS: '[{"urls":"turn:t.example.org","username":"u","credential":"p"}]',
      }).iceTransportPolicy,
    ).toBe('relay');
    expect(() => load({ JOINUS_ICE_TRANSPORT_POLICY: 'none' })).toThrow(ConfigError);
  });

  it('reads process.env when given nothing', () => {
    const c = loadConfig();
    expect(typeof c.port).toBe('number');
    expect(c.agents.size).toBeGreaterThan(0);
  });

  it('accepts PORT 0 (any free port) and 65535, refuses anything outside or not an integer', () => {
    expect(load({ PORT: '0' }).port).toBe(0);
    expect(load({ PORT: '65535' }).port).toBe(65_535);
    for (const PORT of ['65536', '-1', '3000.5', 'http', '80abc']) {
      expect(() => load({ PORT }), PORT).toThrow(ConfigError);
    }
    expect(() => load({ PORT: 'http' })).toThrow(/^PORT: /);
  });

  it('[H5] JOINUS_HANDLE_TTL_MS must be a positive whole number of milliseconds up to a week', () => {
    expect(load({ JOINUS_HANDLE_TTL_MS: '1' }).handleTtlMs).toBe(1);
    expect(load({ JOINUS_HANDLE_TTL_MS: String(7 * 24 * 60 * 60_000) }).handleTtlMs).toBe(604_800_000);
    for (const v of ['0', '-5', '1.5', 'fifteen minutes', String(7 * 24 * 60 * 60_000 + 1)]) {
      expect(() => load({ JOINUS_HANDLE_TTL_MS: v }), v).toThrow(/^JOINUS_HANDLE_TTL_MS: /);
    }
  });

  it('[S4] JOINUS_GRACE_MS must be a positive whole number of milliseconds up to a week', () => {
    expect(load({ JOINUS_GRACE_MS: '250' }).graceMs).toBe(250);
    for (const v of ['0', '-1', '30s', '1e99']) {
      expect(() => load({ JOINUS_GRACE_MS: v }), v).toThrow(/^JOINUS_GRACE_MS: /);
    }
  });

  it('uses the demo account only when JOINUS_AGENTS is unset or empty, and says so', () => {
    expect(load({}).demoAgent).toBe(true);
    expect(load({ JOINUS_AGENTS: '' }).demoAgent).toBe(true);
    const c = load({ JOINUS_AGENTS: 'alice:pw' });
    expect(c.demoAgent).toBe(false);
    expect(c.agents.has('agent')).toBe(false);
  });

  it('refuses a JOINUS_AGENTS that names no usable account', () => {
    expect(() => load({ JOINUS_AGENTS: ' , ' })).toThrow(new ConfigError('JOINUS_AGENTS is set but names no agent.'));
    expect(() => load({ JOINUS_AGENTS: 'alice' })).toThrow(ConfigError);
  });

  it('refuses JOINUS_ICE_SERVERS that is not JSON, with an example of the right shape', () => {
    expect(() => load({ JOINUS_ICE_SERVERS: 'stun:stun.example.org' })).toThrow(
      'JOINUS_ICE_SERVERS is not valid JSON (expected a list like [{"urls":"stun:host:3478"}]).',
    );
  });

  it('refuses JOINUS_ICE_SERVERS of the wrong shape', () => {
    for (const v of [
      '{"urls":"stun:a"}', // not a list
      '[{"url":"stun:a"}]', // wrong key (strict: unknown keys refused)
      '[{"urls":"stun:a","extra":1}]',
      '[{"urls":""}]',
      '[{"urls":[]}]',
      '[{"urls":[""]}]',
      '[{"urls":"turn:a","username":5}]',
      '["stun:a"]',
      JSON.stringify(Array.from({ length: 17 }, () => ({ urls: 'stun:a' }))),
    ]) {
      expect(() => load({ JOINUS_ICE_SERVERS: v }), v).toThrow(/^JOINUS_ICE_SERVERS: /);
    }
    expect(load({ JOINUS_ICE_SERVERS: '[]' }).iceServers).toEqual([]);
    expect(load({ JOINUS_ICE_SERVERS: JSON.stringify(Array.from({ length: 16 }, () => ({ urls: 'stun:a' }))) }).iceServers).toHaveLength(16);
  });

  it('refuses an unknown LOG_LEVEL and accepts the pino levels', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
      expect(load({ LOG_LEVEL: level }).logLevel).toBe(level);
    }
    expect(() => load({ LOG_LEVEL: 'verbose' })).toThrow(/^LOG_LEVEL: /);
  });

  it('ignores unrelated environment variables', () => {
    expect(load({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'production' }).port).toBe(3000);
  });
});

describe('security settings', () => {
  it('JOINUS_TRUST_PROXY: off by default, a number of hops, or a list of addresses and subnets', () => {
    expect(load({}).trustProxy).toBeNull();
    expect(load({ JOINUS_TRUST_PROXY: '0' }).trustProxy).toBeNull();
    expect(load({ JOINUS_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(load({ JOINUS_TRUST_PROXY: 'loopback, 10.0.0.0/8,192.168.1.7' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', '192.168.1.7']);
    expect(() => load({ JOINUS_TRUST_PROXY: 'not-an-address' })).toThrow(/JOINUS_TRUST_PROXY/);
    expect(() => load({ JOINUS_TRUST_PROXY: '99' })).toThrow(/at most 16/);
  });

  it('JOINUS_ALLOWED_ORIGINS: origins only, no paths', () => {
    expect(load({ JOINUS_ALLOWED_ORIGINS: 'https://a.example/' }).allowedOrigins).toEqual(['https://a.example']);
    for (const bad of ['a.example', 'https://a.example/path', 'ftp://a.example', 'https://a.example,nope']) {
      expect(() => load({ JOINUS_ALLOWED_ORIGINS: bad }), bad).toThrow(/JOINUS_ALLOWED_ORIGINS/);
    }
  });

  it('JOINUS_AGENTS: hashed passwords are not counted as plaintext; a broken hash stops start-up', () => {
    const hash = `scrypt$15$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
    const c = load({ JOINUS_AGENTS: `alice:${hash},bob:plain` });
    expect(c.agents.get('alice')).toBe(hash);
    expect(c.plaintextAgents).toEqual(['bob']);
    expect(() => load({ JOINUS_AGENTS: 'alice:scrypt$15$8$1$short$x' })).toThrow(/starts like a hash/);
  });
});

describe('parseAgents', () => {
  it('parses name:password pairs separated by commas, trimming around pairs and names', () => {
    expect(parseAgents('alice:one, bob:two ,carol:three')).toEqual(
      new Map([
        ['alice', 'one'],
        ['bob', 'two'],
        ['carol', 'three'],
      ]),
    );
    expect(parseAgents(' alice :pw')).toEqual(new Map([['alice', 'pw']]));
  });

  it('splits on the first colon only, so a password may contain colons', () => {
    expect(parseAgents('alice:a:b:c')).toEqual(new Map([['alice', 'a:b:c']]));
    expect(parseAgents('bob::')).toEqual(new Map([['bob', ':']]));
  });

  it('keeps spaces inside a password', () => {
    expect(parseAgents('alice:correct horse')).toEqual(new Map([['alice', 'correct horse']]));
  });

  it('accepts names of letters, digits and . _ @ - up to 64 characters', () => {
    const name = `${'a'.repeat(60)}.@_-`;
    expect(parseAgents(`${name}:pw, J.Doe@example-1_x:pw2`)).toEqual(
      new Map([
        [name, 'pw'],
        ['J.Doe@example-1_x', 'pw2'],
      ]),
    );
  });

  it('skips empty entries between commas', () => {
    expect(parseAgents(',alice:pw,,')).toEqual(new Map([['alice', 'pw']]));
  });

  it('a later entry for the same name wins', () => {
    expect(parseAgents('alice:old,alice:new')).toEqual(new Map([['alice', 'new']]));
  });

  it('refuses a pair without a colon, name or password, or with a bad name, naming its position', () => {
    for (const bad of ['alice', ':pw', 'alice:', 'al ice:pw', 'al/ice:pw', 'äl:pw', `${'a'.repeat(65)}:pw`]) {
      expect(() => parseAgents(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseAgents('alice:pw,bob')).toThrow(
      'JOINUS_AGENTS: entry 2 is not a name:password pair (names: letters, digits, . _ @ -; passwords not empty).',
    );
  });

  it('never echoes a bad entry, which may hold a password', () => {
    let message = '';
    try {
      parseAgents('al ice:hunter2');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    expect(message).toContain('entry 1');
    expect(message).not.toContain('hunter2');
  });

  it('refuses a list that names no agent', () => {
    expect(() => parseAgents('')).toThrow('JOINUS_AGENTS is set but names no agent.');
    expect(() => parseAgents(' , ,')).toThrow('JOINUS_AGENTS is set but names no agent.');
  });
});

describe('JOINUS_FORMS_FILE', () => {
  const file = (body: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'joinus-forms-')), 'forms.json');
    writeFileSync(path, body);
    return path;
  };

  it("[C4] adds the operator's forms to the built-in ones (same id: the operator's)", () => {
    const path = file(
      JSON.stringify([
        { id: 'warranty', title: 'Warranty claim', fields: [{ id: 'serial', label: 'Serial number', required: true }] },
        { id: 'payment-details', title: 'Payment details', fields: [{ id: 'card', label: 'Card number', type: 'card-number', editableBy: ['customer'], masked: { showLast: 4 } }], submitTo: 'https://pay.example.com/results' },
      ]),
    );
    const c = load({ JOINUS_FORMS_FILE: path });
    expect(c.forms.map((f) => f.title)).toEqual(['Contact details', 'Address change', 'Payment details', 'Warranty claim']);
    expect(c.forms.find((f) => f.id === 'payment-details')?.submitTo).toBe('https://pay.example.com/results');
  });

  it('[C4] refuses a file that is missing, not JSON, or not a list of valid forms, saying where', () => {
    expect(() => load({ JOINUS_FORMS_FILE: '/nonexistent/forms.json' })).toThrow(/JOINUS_FORMS_FILE: cannot read/);
    expect(() => load({ JOINUS_FORMS_FILE: file('{nope') })).toThrow(/JOINUS_FORMS_FILE: cannot read .* as JSON/);
    expect(() => load({ JOINUS_FORMS_FILE: file(JSON.stringify([{ id: 'x', title: 'X', fields: [{ id: 'a', label: 'A', masked: {}, editableBy: ['agent', 'customer'] }] }])) })).toThrow(
      /JOINUS_FORMS_FILE: 0\.fields\.0: a masked field is typed by exactly one role/,
    );
  });
});

describe('JOINUS_AGENTS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'joinus-agents-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const file = (body: string) => {
    const path = join(dir, `agents-${++files}.txt`);
    writeFileSync(path, body);
    return path;
  };
  const hash = `scrypt$15$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;

  it('reads one name:password per line, skipping blank lines and # comments, trimming each line', () => {
    const path = file(
      [
        '# Join Us agents (mounted by the orchestrator)',
        '',
        `alice:${hash}`,
        '   bob:pa:ss, with comma   ',
        '\t# carol left',
        '  ',
        `dave :${hash}\r`,
        'erin:#not-a-comment',
        '',
      ].join('\n'),
    );
    const c = load({ JOINUS_AGENTS_FILE: path });
    expect(c.agents).toEqual(
      new Map([
        ['alice', hash],
        ['bob', 'pa:ss, with comma'],
        ['dave', hash],
        ['erin', '#not-a-comment'],
      ]),
    );
    expect(c.demoAgent).toBe(false);
    expect(c.plaintextAgents).toEqual(['bob', 'erin']);
  });

  it('reads CRLF files and a byte-order mark', () => {
    expect(load({ JOINUS_AGENTS_FILE: file('\uFEFFalice:one\r\nbob:two\r\n') }).agents).toEqual(
      new Map([
        ['alice', 'one'],
        ['bob', 'two'],
      ]),
    );
  });

  it('uses the demo account only when neither JOINUS_AGENTS nor JOINUS_AGENTS_FILE is set', () => {
    expect(load({ JOINUS_AGENTS_FILE: '' }).demoAgent).toBe(true);
    const c = load({ JOINUS_AGENTS_FILE: file('alice:pw\n') });
    expect(c.demoAgent).toBe(false);
    expect(c.agents.has('agent')).toBe(false);
  });

  it('refuses JOINUS_AGENTS and JOINUS_AGENTS_FILE together: one source of accounts', () => {
    expect(() => load({ JOINUS_AGENTS: 'alice:pw', JOINUS_AGENTS_FILE: file('bob:pw\n') })).toThrow(
      new ConfigError(
        'JOINUS_AGENTS and JOINUS_AGENTS_FILE are both set: give the agent accounts in one of them only (unset the other).',
      ),
    );
    // Said before the file is even read.
    expect(() => load({ JOINUS_AGENTS: 'alice:pw', JOINUS_AGENTS_FILE: join(dir, 'missing.txt') })).toThrow(/both set/);
  });

  it('refuses a missing or unreadable file, naming its path', () => {
    const missing = join(dir, 'missing.txt');
    expect(() => load({ JOINUS_AGENTS_FILE: missing })).toThrow(ConfigError);
    expect(() => load({ JOINUS_AGENTS_FILE: missing })).toThrow(`JOINUS_AGENTS_FILE: cannot read ${missing} (`);
    expect(() => load({ JOINUS_AGENTS_FILE: dir })).toThrow(`JOINUS_AGENTS_FILE: cannot read ${dir} (`);
  });

  it('refuses a file that names no agent', () => {
    for (const body of ['', '\n\n', '# nobody yet\n   \n#alice:pw\n']) {
      const path = file(body);
      expect(() => load({ JOINUS_AGENTS_FILE: path }), JSON.stringify(body)).toThrow(
        new ConfigError(`JOINUS_AGENTS_FILE: ${path} names no agent (one name:password per line; # starts a comment).`),
      );
    }
  });

  it('refuses a bad line with its line number, never echoing it', () => {
    for (const bad of ['alice', ':pw', 'alice:', 'al ice:pw', 'al/ice:pw', 'äl:pw', `${'a'.repeat(65)}:pw`, 'alice pw']) {
      expect(() => load({ JOINUS_AGENTS_FILE: file(`# agents\n\nok:pw\n${bad}\n`) }), bad).toThrow(
        new ConfigError(
          'JOINUS_AGENTS_FILE line 4: not a name:password pair (names: letters, digits, . _ @ -; passwords not empty).',
        ),
      );
    }
    let message = '';
    try {
      load({ JOINUS_AGENTS_FILE: file('ok:pw\n\n# comment\n\n\n\nal ice:hunter2\n') });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^JOINUS_AGENTS_FILE line 7: /);
    expect(message).not.toContain('hunter2');
    expect(() => load({ JOINUS_AGENTS_FILE: file('ok:pw\nalice:scrypt$15$8$1$short$x\n') })).toThrow(
      new ConfigError(
        'JOINUS_AGENTS_FILE line 2: the password of "alice" starts like a hash (scrypt$…) but is not one; make it with npm run hash-password.',
      ),
    );
  });

  it('refuses a name given twice, naming both lines', () => {
    expect(() => load({ JOINUS_AGENTS_FILE: file('alice:one\nbob:two\n# alice again\n alice :three\n') })).toThrow(
      new ConfigError('JOINUS_AGENTS_FILE line 4: "alice" is already on line 1 (one line per agent).'),
    );
  });

  it('reads 2,000 accounts', () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => (i % 2 ? `agent-${i}@example.com:${hash}` : `agent-${i}@example.com:password ${i}`));
    const path = file(`# ${lines.length} agents\n${lines.join('\n')}\n`);
    const c = load({ JOINUS_AGENTS_FILE: path });
    expect(c.agents.size).toBe(2_000);
    expect(c.agents.get('agent-1999@example.com')).toBe(hash);
    expect(c.agents.get('agent-0@example.com')).toBe('password 0');
    expect(c.plaintextAgents).toHaveLength(1_000);
  });

  it('parseAgentsFile works on text alone (same rules)', () => {
    expect(parseAgentsFile('# x\nalice:pw\n', 'agents.txt')).toEqual(new Map([['alice', 'pw']]));
    expect(() => parseAgentsFile('alice:pw\nalice:pw\n', 'agents.txt')).toThrow(/line 2: "alice" is already on line 1/);
  });
});
