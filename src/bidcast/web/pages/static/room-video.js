// The room's stream: native HLS where the browser has it, hls.js when the server says it is
// installed, a plain <video> source for other URLs, and the cover (poster) whenever nothing plays.

let hlsScript = null;

function loadScript(src) {
  if (!hlsScript) {
    hlsScript = new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = src;
      s.async = true;
      s.onload = () => resolve(window.Hls || null);
      s.onerror = () => resolve(null);       // optional: never fail the page for it
      document.head.append(s);
    });
  }
  return hlsScript;
}

// stage: the element whose class says what is showing ("is-playing").
export async function startVideo({ video, stage, url, hlsJs, unmute }) {
  if (!video || !url) return "poster";
  const showing = (playing) => stage.classList.toggle("is-playing", playing);
  video.addEventListener("playing", () => showing(true));
  video.addEventListener("error", () => showing(false));
  video.addEventListener("emptied", () => showing(false));
  if (unmute) {
    video.addEventListener("volumechange", () => { unmute.hidden = !video.muted || video.paused; });
    video.addEventListener("playing", () => { unmute.hidden = !video.muted; });
    unmute.addEventListener("click", () => { video.muted = false; video.play().catch(() => {}); });
  }
  const isHls = /\.m3u8(?:[?#]|$)/i.test(url);
  const play = () => video.play().catch(() => { /* autoplay refused: the poster stays */ });
  if (!isHls || video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    play();
    return isHls ? "native-hls" : "file";
  }
  const Hls = hlsJs ? await loadScript(hlsJs) : null;
  if (!Hls || !Hls.isSupported?.()) return "poster";
  const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 3 });
  let recoveries = 0;
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    if (recoveries++ < 5) {
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else setTimeout(() => hls.startLoad(), 2000 * recoveries);
    } else {
      hls.destroy();
      showing(false);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, play);
  hls.loadSource(url);
  hls.attachMedia(video);
  return "hls.js";
}
