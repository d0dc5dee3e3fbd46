// The browser side of robot-dates: list the robots, then chat over a WebSocket.
// Every piece of text goes in with textContent, so nobody's message becomes HTML.
"use strict";

const robotList = document.getElementById("robots");
const profiles = document.getElementById("profiles");
const chat = document.getElementById("chat");
const chatTitle = document.getElementById("chat-title");
const statusLine = document.getElementById("status");
const messages = document.getElementById("messages");
const composer = document.getElementById("composer");
const input = document.getElementById("message");
const sendButton = composer.querySelector("button");
const newDate = document.getElementById("new-date");
const back = document.getElementById("back");

let socket = null;
let currentRobot = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function robotCard(robot) {
  const card = element("li", "card");
  card.append(
    element("h3", "card-name", robot.name),
    element("p", "card-meta", `${robot.age} robot years`),
    element("p", "card-tagline", robot.tagline),
    element("p", "card-detail", `Likes: ${robot.likes.join(", ")}`),
    element("p", "card-detail", `Dislikes: ${robot.dislikes.join(", ")}`),
    element("p", "card-detail", `Looking for: ${robot.looking_for}`),
  );
  const button = element("button", "card-button", `Chat with ${robot.name}`);
  button.type = "button";
  button.addEventListener("click", () => openChat(robot));
  card.append(button);
  return card;
}

async function showRobots() {
  const response = await fetch("/robots");
  const robots = await response.json();
  robotList.replaceChildren(...robots.map(robotCard));
}

function addMessage(who, text) {
  const item = element("li", `message from-${who}`);
  item.append(element("span", "visually-hidden", who === "you" ? "You: " : "Robot: "));
  item.append(element("span", "text", text));
  messages.append(item);
  item.scrollIntoView({ block: "end" });
}

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}

function chatUrl(robot) {
  // Same host and port as the page; wss: when the page came over https:.
  const url = new URL(`/robots/${encodeURIComponent(robot.slug)}`, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function openChat(robot) {
  currentRobot = robot;
  profiles.hidden = true;
  chat.hidden = false;
  newDate.hidden = true;
  chatTitle.textContent = `A date with ${robot.name}`;
  messages.replaceChildren();
  input.disabled = false;
  sendButton.disabled = false;
  setStatus("connecting", "Connecting…");

  // Events of a date we have left (its close can arrive after the next date began)
  // must not touch the page: each listener checks that its socket is still current.
  const ws = new WebSocket(chatUrl(robot));
  socket = ws;
  ws.addEventListener("open", () => {
    if (ws !== socket) return;
    setStatus("open", "Connected");
    input.focus();
  });
  ws.addEventListener("message", (event) => {
    if (ws === socket) addMessage("robot", event.data);
  });
  ws.addEventListener("close", (event) => {
    if (ws !== socket) return;
    const reason = event.reason ? `: ${event.reason}` : "";
    setStatus("closed", `Closed (code ${event.code}${reason})`);
    input.disabled = true;
    sendButton.disabled = true;
    newDate.hidden = false;
    newDate.focus();
  });
}

function closeChat() {
  if (socket) socket.close(1000, "left the date");
  socket = null;
  chat.hidden = true;
  profiles.hidden = false;
}

composer.addEventListener("submit", (event) => {
  event.preventDefault(); // Enter in the field submits the form: send, don't reload
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  socket.send(input.value);
  addMessage("you", input.value);
  input.value = "";
});

newDate.addEventListener("click", () => openChat(currentRobot));
back.addEventListener("click", closeChat);

showRobots().catch((error) => {
  robotList.replaceChildren(element("li", "card", `Could not load robots: ${error}`));
});
