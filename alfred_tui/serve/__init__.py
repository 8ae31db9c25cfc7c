"""``alfred-tui serve``: the same Textual app in a browser, safe by default.

textual-serve (pinned in pyproject) runs one app process per browser session
and ships the browser client (xterm.js); it has no authentication, so this
package puts its own aiohttp application in front of it:

* :mod:`.plan`: the command line checked before anything is imported (bind
  address and TLS, the production policy, the profile's session limits);
* :mod:`.access`: the login token, constant-time comparison, login sessions
  and the rate limit on wrong tokens;
* :mod:`.events`: the audit log of logins and sessions in the state dir;
* :mod:`.page`: the HTML pages, the security headers, the browser client;
* :mod:`.terminal`: one websocket, one app process, its idle timeout;
* :mod:`.server`: the routes, the Host/Origin checks, and running it all.

Only :mod:`.plan`, :mod:`.access` and :mod:`.events` are imported before the
server starts; aiohttp and textual-serve are imported by :mod:`.server`.
"""
