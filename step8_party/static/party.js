// The party view: join with a name, hear everyone, leave. Lines come from the server
// as plain text ("Sam: hello", "* Sam joined the party") and go in with textContent.
"use strict";

const partyDoor = document.getElementById("party-door");
const partyJoin = document.getElementById("party-join");
const partyName = document.getElementById("party-name");
const party = document.getElementById("party");
const partyStatus = document.getElementById("party-status");
const partyLines = document.getElementById("party-lines");
const partyComposer = document.getElementById("party-composer");
const partyMessage = document.getElementById("party-message");
const leave = document.getElementById("leave");
const robotProfiles = document.getElementById("profiles");

let partySocket = null;

function partyUrl(name) {
  // Same host and port as the page; wss: when the page came over https:.
  const url = new URL("/party", window.location.href);
  url.searchParams.set("name", name);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function addPartyLine(line, myName) {
  // "* ..." is news from the party; anything else is "Name: what they said".
  const item = document.createElement("li");
  const speaker = line.startsWith("* ") ? null : line.slice(0, line.indexOf(": "));
  const text = document.createElement("span");
  text.className = "text";
  if (speaker === null) {
    item.className = "message notice";
    text.textContent = line.slice(2);
  } else {
    item.className = `message ${speaker === myName ? "from-you" : "from-guest"}`;
    const who = document.createElement("span");
    who.className = "speaker";
    who.textContent = speaker;
    item.append(who);
    text.textContent = line.slice(speaker.length + 2);
  }
  item.append(text);
  partyLines.append(item);
  item.scrollIntoView({ block: "end" });
}

function setPartyStatus(state, text) {
  partyStatus.dataset.state = state;
  partyStatus.textContent = text;
}

function joinParty(name) {
  partyDoor.hidden = true;
  robotProfiles.hidden = true;
  party.hidden = false;
  partyLines.replaceChildren();
  partyMessage.disabled = false;
  setPartyStatus("connecting", "Connecting…");

  // Events of a party we have left (its close can arrive after we joined again)
  // must not touch the page: each listener checks that its socket is still current.
  const ws = new WebSocket(partyUrl(name));
  partySocket = ws;
  let opened = false;
  ws.addEventListener("open", () => {
    if (ws !== partySocket) return;
    opened = true;
    setPartyStatus("open", `At the party as ${name}`);
    partyMessage.focus();
  });
  ws.addEventListener("message", (event) => {
    if (ws === partySocket) addPartyLine(event.data, name);
  });
  ws.addEventListener("close", (event) => {
    if (ws !== partySocket) return;
    // A browser is never told why a handshake failed: most likely the name is taken.
    const why = opened ? `code ${event.code}${event.reason ? `: ${event.reason}` : ""}`
      : "could not join; is that name taken?";
    setPartyStatus("closed", `Left the party (${why})`);
    partyMessage.disabled = true;
  });
}

function leaveParty() {
  if (partySocket) partySocket.close(1000, "left the party");
  partySocket = null;
  party.hidden = true;
  partyDoor.hidden = false;
  robotProfiles.hidden = false;
}

partyJoin.addEventListener("submit", (event) => {
  event.preventDefault();
  joinParty(partyName.value);
});

partyComposer.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!partySocket || partySocket.readyState !== WebSocket.OPEN) return;
  partySocket.send(partyMessage.value);
  partyMessage.value = "";
});

leave.addEventListener("click", leaveParty);
