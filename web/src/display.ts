// The reader's display choice: large text with high contrast, kept in localStorage so it holds
// on every view and after the page is reopened. Applied as a class on <html> (the CSP allows no
// inline style, and none is needed).

const STORE = "commons.display";

export function largeText(): boolean {
  return localStorage.getItem(STORE) === "large";
}

export function applyDisplay(): void {
  document.documentElement.classList.toggle("large", largeText());
}

export function setLargeText(on: boolean): void {
  localStorage.setItem(STORE, on ? "large" : "normal");
  applyDisplay();
}
