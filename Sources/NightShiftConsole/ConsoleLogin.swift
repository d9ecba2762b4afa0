import Foundation
import NightShiftEngine

/// Signing in: the one-time link from `nightshift console login` shows whose it is and a button;
/// pressing it uses the link (once) and opens a session (a cookie holding a new secret).
enum ConsoleLogin {
    static func page(_ presented: String, _ page: PageContext, sessions: ConsoleSessionStore,
                     render: (String, [String: Any]) -> String) throws -> ConsoleResponse {
        guard let login = ConsoleSecret(presented: presented), let (account, role) = try sessions.pendingLogin(login) else {
            return ConsoleResponse(status: 410, body: render("message", page.base("This link cannot be used", current: "").merging([
                "message": "This sign-in link was used already, has expired, or is not one. Run `nightshift console login` again for a new one.",
                "failed": true,
            ]) { $1 }))
        }
        return ConsoleResponse(status: 200, body: render("login", page.base("Sign in", current: "").merging([
            "account": account, "role": role, "login": login.text, "minutes": page.settings.sessionMinutes, "refresh": false,
        ]) { $1 }), headers: [("Referrer-Policy", "no-referrer")])
    }

    static func signIn(_ page: PageContext, sessions: ConsoleSessionStore, render: (String, [String: Any]) -> String) throws -> ConsoleResponse {
        let secret = ConsoleSecret()
        guard let login = page.request.form["login"].flatMap(ConsoleSecret.init(presented:)),
              try sessions.open(login, session: secret, minutes: page.settings.sessionMinutes, from: page.request.clientAddress) != nil else {
            return ConsoleResponse(status: 410, body: render("message", page.base("This link cannot be used", current: "").merging([
                "message": "This sign-in link was used already or has expired. Run `nightshift console login` again for a new one.",
                "failed": true,
            ]) { $1 }))
        }
        return ConsoleResponse(status: 303, body: "", headers: [
            ("Location", "/"), ("Set-Cookie", ConsoleApp.sessionCookie(secret, minutes: page.settings.sessionMinutes, secure: page.settings.tls != nil)),
        ])
    }
}
