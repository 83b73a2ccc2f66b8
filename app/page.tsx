import { LocalCopySweeper } from './_components/LocalCopySweeper';
import Link from 'next/link';

export default function Landing() {
  return (
    <div className="stack">
      <LocalCopySweeper />
      <div>
        <h1>Help, together.</h1>
        <p className="lead">
          Chat with an agent and work through it side by side. Need someone else in the conversation? The agent
          gives them a one-time handle and they join in seconds.
        </p>
      </div>
      <div className="landing-grid">
        <Link href="/help" className="card landing-card" aria-label="Get help">
          <h2>Get help</h2>
          <p className="status-note">Start a session with one of our agents. You will see your place in the queue.</p>
          <span className="go" aria-hidden="true">Start →</span>
        </Link>
        <Link href="/join" className="card landing-card" aria-label="Join Us">
          <h2>Join Us</h2>
          <p className="status-note">Were you given a handle? Enter it to join a session that is already under way.</p>
          <span className="go" aria-hidden="true">Enter a handle →</span>
        </Link>
        <Link href="/agent" className="card landing-card" aria-label="Agent console">
          <h2>Agent console</h2>
          <p className="status-note">For agents: sign in, accept waiting customers and invite third parties.</p>
          <span className="go" aria-hidden="true">Sign in →</span>
        </Link>
      </div>
    </div>
  );
}
