// Type definitions for the Threadline host-page API (window.Threadline, alias window.Genesys),
// served at /threadline.d.ts next to the loader /threadline.js.
//
//   Threadline('init', { deploymentId, server, locale, theme, position, auth })
//   Threadline('command', name, options?) -> Promise
//   Threadline('subscribe', name, callback) -> unsubscribe function
//
// Every event is also dispatched on `window` as CustomEvent `threadline:<name>` with the
// payload as `detail`.

export interface ThreadlineSettings {
  /** Messenger deployment id. */
  deploymentId?: string;
  /** A Genesys region domain (`mypurecloud.com`) or a server URL (`http://127.0.0.1:8080`).
   *  Default: the origin the loader was served from. */
  server?: string;
  /** UI language: `en`, `fr` or `ar` (others fall back to English). */
  locale?: string;
  theme?: 'light' | 'dark' | 'auto';
  position?: 'left' | 'right';
  /** `#RRGGBB` (or `#RGB`, `#RGBA`, `#RRGGBBAA`). */
  primaryColor?: string;
  /** Header title. */
  title?: string;
  /** Sign-in for customers (the deployment must enable auth): `true`, or settings; with
   *  `getTokens` the host page signs the customer in, else the built-in redirect flow runs. */
  auth?: boolean | ThreadlineAuthSettings;
  /** A short synthesised beep for each new agent/bot message no tab shows in an open panel
   *  (one tab beeps, however many are open). Default `false`. `data-sound="true"`. */
  sound?: boolean;
  /** An OS notification for a new agent/bot message while the page is hidden, when the page
   *  already holds the Notification permission (see `Notifications.requestPermission`).
   *  Default `false`. `data-notifications="true"`. */
  notifications?: boolean;
}

/** `detail` of the `threadline:notify` window event: one per alerted message, from one tab. */
export interface ThreadlineNotify {
  sound: boolean;
  notification: boolean;
  title: string;
  body: string;
}

export interface ThreadlineAuthSettings {
  authorizeUrl?: string;
  clientId?: string;
  redirectUri?: string;
  /** `false` turns sign-in off. */
  enabled?: boolean;
  /** The host page's provider: the customer's tokens, or `null` when not signed in. */
  getTokens?: () => ThreadlineTokens | null | Promise<ThreadlineTokens | null>;
}

export interface ThreadlineTokens {
  jwt: string;
  refreshToken?: string;
}

/** Connection states of `Connection.stateChanged`. */
export type ThreadlineConnectionState =
  | 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline'
  | 'readOnly' | 'expired' | 'closed' | 'error';

export interface ThreadlineStateChange {
  state: ThreadlineConnectionState;
  previous: ThreadlineConnectionState | null;
  /** `reconnecting`: failed attempts in this outage so far. */
  attempt?: number;
  /** `closed`: why (`user`, `serverClosed`, `conversationCleared`, `signedIn`,
   *  `sessionLimitReached`, `loggedOut`, or the server's text). */
  reason?: string;
  /** `error`: the server or local error code and its text. */
  code?: number;
  message?: string;
}

export interface ThreadlineMessage {
  /** The server's message id. */
  id: string;
  text: string;
  /** Genesys terms: `Inbound` = from the customer, `Outbound` = to the customer. */
  direction: 'Inbound' | 'Outbound';
  author: 'customer' | 'agent' | 'bot' | 'system';
  displayName: string | null;
  /** Server time in ms since the epoch. */
  timestamp: number | null;
}

/** Event name → `data` of the callback argument (and `detail` of the window CustomEvent). */
export interface ThreadlineEvents {
  /** The messenger is mounted and takes commands. Re-published to late subscribers. */
  'Messenger.ready': { deploymentId: string; locale: string };
  'Messenger.opened': {};
  'Messenger.closed': {};
  /** New messages, once the server has them (history shown on load is not announced). */
  'MessagingService.messagesReceived': { messages: ThreadlineMessage[] };
  /** Agent/bot messages that arrived while the panel was closed. */
  'MessagingService.unreadCount': { count: number };
  /** A new conversation (session) was started. */
  'Conversations.started': {};
  /** `ended`: the agent ended it (read-only now); `cleared`: the customer cleared it. */
  'Conversations.closed': { reason: 'ended' | 'cleared' };
  /** The session expires soon (ms since the epoch). */
  'Session.expiring': { expiresAt: number };
  'Session.expired': {};
  /** The link to the server was lost (once per outage). */
  'Connection.disconnected': ThreadlineStateChange;
  /** The link is back after `Connection.disconnected`. */
  'Connection.reconnected': {};
  'Connection.stateChanged': ThreadlineStateChange;
  'Auth.signedIn': {};
  'Auth.signedOut': {};
  /** A sign-in attempt ended without a signed-in customer (`message`: what the UI shows). */
  'Auth.authError': { message: string };
}

export type ThreadlineEventName = keyof ThreadlineEvents;

/** What a subscriber is called with (Genesys Messenger's shape). */
export interface ThreadlineEvent<E extends ThreadlineEventName = ThreadlineEventName> {
  event: E;
  data: ThreadlineEvents[E];
}

/** Command name → [options, resolved value]. Rejections are `Error`s saying what was wrong. */
export interface ThreadlineCommands {
  'Messenger.open': [options: {} | undefined, result: { open: true }];
  'Messenger.close': [options: {} | undefined, result: { open: false }];
  'Messenger.toggle': [options: {} | undefined, result: { open: boolean }];
  /** Connects when needed; resolves once the message is accepted (queued while offline). */
  'MessagingService.sendMessage': [options: { message: string }, result: { id: string }];
  /** The deployment must enable clearing. Works from every tab (the one holding the connection decides). */
  'MessagingService.clearConversation': [options: {} | undefined, result: null];
  /** Only from a conversation the agent ended (read-only), unless signed in. */
  'MessagingService.startNewConversation': [options: {} | undefined, result: null];
  /** Merged into the attributes sent with the next message. Values: string, number, boolean. */
  'Database.set': [
    options: { messaging: { customAttributes: Record<string, string | number | boolean> } },
    /** `null` in a tab that passed the attributes on to the tab holding the connection. */
    result: { customAttributes: Record<string, string> | null },
  ];
  /** Starts the sign-in (redirect or `auth.getTokens`); `Auth.signedIn` follows. Needs `auth`. */
  'Auth.signIn': [options: {} | undefined, result: { signedIn: boolean }];
  'Auth.signOut': [options: {} | undefined, result: { signedIn: false }];
  'Launcher.show': [options: {} | undefined, result: undefined];
  'Launcher.hide': [options: {} | undefined, result: undefined];
  /** Asks the user for the Notification permission (call it from a click handler, after
   *  `Messenger.ready`); when granted, notifications are on. */
  'Notifications.requestPermission': [
    options: {} | undefined,
    result: { permission: 'granted' | 'denied' | 'default' | 'unsupported' },
  ];
  /** Re-renders the messenger in `en`, `fr` or `ar`; the conversation continues. */
  'Locale.set': [options: { locale: string }, result: { locale: string }];
}

export type ThreadlineCommandName = keyof ThreadlineCommands;

export interface ThreadlineApi {
  /** Settings; only before the messenger loads (normally in the snippet). */
  (kind: 'init', settings: ThreadlineSettings): Promise<void>;
  <C extends ThreadlineCommandName>(
    kind: 'command',
    name: C,
    options?: ThreadlineCommands[C][0],
    /** Genesys-style callbacks, as an alternative to the returned promise. */
    onSuccess?: (result: ThreadlineCommands[C][1]) => void,
    onError?: (error: Error) => void,
  ): Promise<ThreadlineCommands[C][1]>;
  <E extends ThreadlineEventName>(kind: 'subscribe', name: E, callback: (event: ThreadlineEvent<E>) => void): () => void;
  /** Calls made before the loader arrived (the snippet's stub). */
  q?: IArguments[];
  /** Set once the loader took over. */
  embedded?: true;
}

declare global {
  interface Window {
    Threadline: ThreadlineApi;
    /** Alias, so pages written for Genesys Messenger work unchanged. */
    Genesys: ThreadlineApi;
  }
  interface WindowEventMap {
    'threadline:Messenger.ready': CustomEvent<ThreadlineEvents['Messenger.ready']>;
    'threadline:Messenger.opened': CustomEvent<ThreadlineEvents['Messenger.opened']>;
    'threadline:Messenger.closed': CustomEvent<ThreadlineEvents['Messenger.closed']>;
    'threadline:MessagingService.messagesReceived': CustomEvent<ThreadlineEvents['MessagingService.messagesReceived']>;
    'threadline:MessagingService.unreadCount': CustomEvent<ThreadlineEvents['MessagingService.unreadCount']>;
    'threadline:Conversations.started': CustomEvent<ThreadlineEvents['Conversations.started']>;
    'threadline:Conversations.closed': CustomEvent<ThreadlineEvents['Conversations.closed']>;
    'threadline:Session.expiring': CustomEvent<ThreadlineEvents['Session.expiring']>;
    'threadline:Session.expired': CustomEvent<ThreadlineEvents['Session.expired']>;
    'threadline:Connection.disconnected': CustomEvent<ThreadlineEvents['Connection.disconnected']>;
    'threadline:Connection.reconnected': CustomEvent<ThreadlineEvents['Connection.reconnected']>;
    'threadline:Connection.stateChanged': CustomEvent<ThreadlineEvents['Connection.stateChanged']>;
    'threadline:Auth.signedIn': CustomEvent<ThreadlineEvents['Auth.signedIn']>;
    'threadline:Auth.signedOut': CustomEvent<ThreadlineEvents['Auth.signedOut']>;
    'threadline:Auth.authError': CustomEvent<ThreadlineEvents['Auth.authError']>;
    /** A new-message sound or notification fired (not a subscribable event). */
    'threadline:notify': CustomEvent<ThreadlineNotify>;
  }
}
