// "Read aloud" on a site page: the browser's own speech synthesis reads the
// site's name, summary and description.  The button stays hidden unless the
// browser can speak, so nobody is offered a button that does nothing.
//
// <button data-read-aloud data-target="ID" data-lang="ja" data-stop-label="…">
// reads the elements marked data-read inside #ID, in page order; each block of
// the description is its own utterance, because some browsers stop long
// utterances after about 15 seconds.  data-lang is the BCP 47 language of the
// text being read (the page's language, or the language of the text shown
// when no translation exists yet), so the right voice is chosen.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function textsToRead(container) {
    var out = [];
    container.querySelectorAll("[data-read]").forEach(function (part) {
      var blocks = part.querySelectorAll("p, li, h2, h3, h4, blockquote");
      if (blocks.length === 0) {
        blocks = [part];
      }
      Array.prototype.forEach.call(blocks, function (block) {
        // a <p> inside a <li> or <blockquote> is read with its parent only
        if (block !== part && block.parentElement.closest("li, blockquote") &&
            part.contains(block.parentElement.closest("li, blockquote"))) {
          return;
        }
        var text = block.textContent.replace(/\s+/g, " ").trim();
        if (text) {
          out.push(text);
        }
      });
    });
    return out;
  }

  ready(function () {
    var button = document.querySelector("button[data-read-aloud]");
    if (!button || !window.speechSynthesis || typeof window.SpeechSynthesisUtterance !== "function") {
      return;
    }
    var container = document.getElementById(button.getAttribute("data-target"));
    if (!container) {
      return;
    }
    var synth = window.speechSynthesis;
    var startLabel = button.textContent;
    var stopLabel = button.getAttribute("data-stop-label") || startLabel;
    var lang = button.getAttribute("data-lang") || document.documentElement.lang;
    var reading = false;
    var run = 0;  // utterances of an earlier, stopped reading must not reset the button

    function show(on) {
      reading = on;
      button.textContent = on ? stopLabel : startLabel;
    }

    function stop() {
      run += 1;
      synth.cancel();
      show(false);
    }

    function start() {
      var texts = textsToRead(container);
      if (texts.length === 0) {
        return;
      }
      synth.cancel();  // clears a queue left over from an interrupted reading
      run += 1;
      var mine = run;
      show(true);
      texts.forEach(function (text, index) {
        var utterance = new window.SpeechSynthesisUtterance(text);
        utterance.lang = lang;
        utterance.rate = 0.9;  // a little slower than usual: easier to follow
        if (index === texts.length - 1) {
          utterance.onend = function () { if (run === mine) { show(false); } };
        }
        utterance.onerror = function () { if (run === mine) { show(false); } };
        synth.speak(utterance);
      });
    }

    button.addEventListener("click", function () {
      if (reading) {
        stop();
      } else {
        start();
      }
    });
    window.addEventListener("pagehide", function () { synth.cancel(); });
    button.hidden = false;
  });
}());
