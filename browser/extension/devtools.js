// Adds the "Symbolicate" panel: the devtools page (browser/devtools/) and the same module.
chrome.devtools.panels.create("Symbolicate", "", "browser/devtools/index.html");
