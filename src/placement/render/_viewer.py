"""The page around the scene data and the WebGL viewer script of :mod:`._html`.

``TEMPLATE`` has the placeholders ``@TITLE@``, ``@SUBTITLE@``, ``@LEGEND@`` (``<li>`` items),
``@DATA@`` (the JSON of :func:`placement.render._html.page_data`) and ``@SCRIPT@``. The
script is our own: plain WebGL 1, no library, nothing fetched.
"""

#: The HTML page: canvas, overlays (title, subtitle, legend, camera labels, compass, controls).
TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>
html, body { margin: 0; height: 100%; overflow: hidden; background: #d9e2ec;
  font-family: "Helvetica Neue", Arial, sans-serif; color: #1d2733; }
#view { position: absolute; inset: 0; width: 100%; height: 100%; display: block;
  touch-action: none; cursor: grab; }
#view.dragging { cursor: grabbing; }
#head { position: absolute; left: 16px; top: 10px; right: 300px; pointer-events: none; }
#head h1 { margin: 0; font-size: 26px; font-weight: 500; }
#head p { margin: 6px 0 0 2px; font-size: 14px; color: #3a4654; }
#legend { position: absolute; right: 14px; top: 14px; margin: 0; padding: 8px 12px;
  list-style: none; background: rgba(255, 255, 255, 0.88); border-radius: 4px;
  font-size: 17px; line-height: 1.55; pointer-events: none; }
.swatch { display: inline-block; width: 13px; height: 13px; margin-right: 7px;
  vertical-align: -1px; border-radius: 2px; }
#labels { position: absolute; inset: 0; pointer-events: none; overflow: hidden; }
.label { position: absolute; font-size: 11px; font-weight: 600; padding: 0 3px;
  background: rgba(255, 255, 255, 0.75); border-radius: 2px; white-space: nowrap;
  transform: translate(-50%, -100%); }
#controls { position: absolute; left: 14px; bottom: 12px; font-size: 12px; color: #3a4654; }
#controls button { font: inherit; margin-right: 10px; padding: 3px 10px; cursor: pointer;
  background: #fff; border: 1px solid #9aa6b2; border-radius: 3px; }
#compass { position: absolute; right: 14px; bottom: 10px; width: 270px; height: 74px;
  pointer-events: none; overflow: hidden; }
@media (max-width: 760px) {
  /* A narrow window: the title takes the width, the legend moves down above the compass. */
  #compass { bottom: 40px; }
  #head { right: 16px; }
  #head h1 { font-size: 20px; }
  #legend { top: auto; bottom: 120px; font-size: 13px; }
}
#compass line, #compass polygon { stroke: #1d2733; stroke-width: 2; fill: #1d2733; }
#compass text { font-size: 12px; fill: #1d2733; }
#compass #scale-text { font-size: 11px; fill: #3a4654; }
#nogl { display: none; position: absolute; left: 16px; top: 90px; color: #a01010; }
</style>
</head>
<body>
<canvas id="view"></canvas>
<div id="labels"></div>
<div id="head"><h1>@TITLE@</h1><p>@SUBTITLE@</p></div>
<ul id="legend">
@LEGEND@
</ul>
<div id="controls"><button id="reset" type="button">reset view</button>
drag: orbit &middot; right-drag or shift-drag: pan &middot; wheel: zoom</div>
<svg id="compass" aria-label="north arrow and scale bar">
<line id="needle"></line><polygon id="needle-head"></polygon>
<text id="north" text-anchor="middle" dominant-baseline="middle">N</text>
<line id="scale-bar"></line><line id="scale-tick0"></line><line id="scale-tick1"></line>
<text id="scale-text"></text></svg>
<div id="nogl">This browser cannot draw WebGL: the 3D view is unavailable.</div>
<script type="application/json" id="scene-data">@DATA@</script>
<script>
@SCRIPT@
</script>
</body>
</html>
"""

#: The viewer: decodes the layers, draws them, and orbits, pans and zooms on mouse/touch.
SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("scene-data").textContent);
  var canvas = document.getElementById("view");
  var opts = { antialias: true, alpha: false, preserveDrawingBuffer: true };
  var gl = canvas.getContext("webgl", opts) || canvas.getContext("experimental-webgl", opts);
  if (!gl) { document.getElementById("nogl").style.display = "block"; return; }

  function bytes(b64) {
    var s = atob(b64), n = s.length, a = new Uint8Array(n);
    for (var i = 0; i < n; i++) a[i] = s.charCodeAt(i);
    return a;
  }
  function hexRgb(h) {
    return [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16) / 255; });
  }

  function compile(vs, fs) {
    var p = gl.createProgram();
    [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]].forEach(function (s) {
      var sh = gl.createShader(s[0]);
      gl.shaderSource(sh, s[1]);
      gl.compileShader(sh);
      if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
      gl.attachShader(p, sh);
    });
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  // Flat Lambert shading: a fixed sun and a headlight, lit from whichever side faces the
  // viewer (CityGML polygons do not agree on their winding).
  var mesh = compile(
    "attribute vec3 aPos; attribute vec3 aNor; attribute vec3 aCol;\n" +
    "uniform mat4 uMVP; uniform vec3 uEye; uniform vec3 uSun; uniform vec3 uHead;\n" +
    "uniform vec4 uLight;\n" +
    "varying vec3 vCol;\n" +
    "void main() {\n" +
    "  gl_Position = uMVP * vec4(aPos, 1.0);\n" +
    "  vec3 n = aNor;\n" +
    "  if (dot(n, uEye - aPos) < 0.0) n = -n;\n" +
    "  float lit = uLight.z * max(dot(n, uSun), 0.0) + uLight.w * max(dot(n, uHead), 0.0);\n" +
    "  vCol = aCol * (uLight.x + uLight.y * lit);\n" +
    "}\n",
    "precision mediump float; varying vec3 vCol; uniform float uAlpha;\n" +
    "void main() { gl_FragColor = vec4(clamp(vCol, 0.0, 1.0), uAlpha); }\n");
  var loc = {
    pos: gl.getAttribLocation(mesh, "aPos"), nor: gl.getAttribLocation(mesh, "aNor"),
    col: gl.getAttribLocation(mesh, "aCol"), mvp: gl.getUniformLocation(mesh, "uMVP"),
    eye: gl.getUniformLocation(mesh, "uEye"), sun: gl.getUniformLocation(mesh, "uSun"),
    head: gl.getUniformLocation(mesh, "uHead"), light: gl.getUniformLocation(mesh, "uLight"),
    alpha: gl.getUniformLocation(mesh, "uAlpha")
  };
  var sky = compile(
    "attribute vec2 aXY; varying float vT;\n" +
    "void main() { vT = aXY.y * 0.5 + 0.5; gl_Position = vec4(aXY, 0.0, 1.0); }\n",
    "precision mediump float; varying float vT; uniform vec3 uTop; uniform vec3 uBottom;\n" +
    "void main() { gl_FragColor = vec4(mix(uBottom, uTop, vT), 1.0); }\n");
  var skyXY = gl.getAttribLocation(sky, "aXY");
  var skyBuf = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, skyBuf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);

  function upload(array) {
    var b = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, b);
    gl.bufferData(gl.ARRAY_BUFFER, array, gl.STATIC_DRAW);
    return b;
  }

  // Each layer is expanded to one vertex per corner so every triangle has its own normal.
  function build(layer) {
    var pos = new Float32Array(bytes(layer.positions).buffer);
    var ind;
    if (layer.quads) {
      ind = new Uint32Array(3 * layer.count);
      for (var q = 0; q < layer.count / 2; q++) {
        var c0 = 4 * q, o6 = 6 * q;
        ind[o6] = c0; ind[o6 + 1] = c0 + 1; ind[o6 + 2] = c0 + 2;
        ind[o6 + 3] = c0; ind[o6 + 4] = c0 + 2; ind[o6 + 5] = c0 + 3;
      }
    } else {
      var raw = bytes(layer.indices).buffer;
      ind = layer.index_bytes === 2 ? new Uint16Array(raw) : new Uint32Array(raw);
    }
    var n = ind.length, P = new Float32Array(3 * n), N = new Float32Array(3 * n);
    var C = new Uint8Array(3 * n), i, k;
    for (i = 0; i < n; i++) {
      k = 3 * ind[i];
      P[3 * i] = pos[k]; P[3 * i + 1] = pos[k + 1]; P[3 * i + 2] = pos[k + 2];
    }
    if (layer.mode === "triangles") {
      var rgb = bytes(layer.colors);
      for (var t = 0; t < n / 3; t++) {
        var o = 9 * t;
        var ux = P[o + 3] - P[o], uy = P[o + 4] - P[o + 1], uz = P[o + 5] - P[o + 2];
        var vx = P[o + 6] - P[o], vy = P[o + 7] - P[o + 1], vz = P[o + 8] - P[o + 2];
        var nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
        var len = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
        for (k = 0; k < 3; k++) {
          N[o + 3 * k] = nx / len; N[o + 3 * k + 1] = ny / len; N[o + 3 * k + 2] = nz / len;
          C[o + 3 * k] = rgb[3 * t]; C[o + 3 * k + 1] = rgb[3 * t + 1];
          C[o + 3 * k + 2] = rgb[3 * t + 2];
        }
      }
    } else {
      for (i = 0; i < n; i++) {
        C[3 * i] = layer.color[0]; C[3 * i + 1] = layer.color[1]; C[3 * i + 2] = layer.color[2];
      }
    }
    return {
      name: layer.name, count: n, lines: layer.mode === "lines",
      pos: upload(P), nor: upload(N), col: upload(C),
      ambient: layer.ambient, diffuse: layer.diffuse, alpha: layer.alpha
    };
  }
  var layers = data.layers.map(build);

  // ---- matrices (column-major, as WebGL wants them)
  function perspective(fovy, aspect, near, far) {
    var f = 1 / Math.tan(fovy / 2), d = near - far;
    return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / d, -1,
            0, 0, 2 * far * near / d, 0];
  }
  function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
  function cross(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  function unit(a) { var l = Math.sqrt(dot(a, a)) || 1; return [a[0] / l, a[1] / l, a[2] / l]; }
  function lookAt(eye, at, up) {
    var z = unit(sub(eye, at)), x = unit(cross(up, z)), y = cross(z, x);
    return [x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
            -dot(x, eye), -dot(y, eye), -dot(z, eye), 1];
  }
  function mul(a, b) {
    var r = new Float32Array(16);
    for (var c = 0; c < 4; c++) {
      for (var row = 0; row < 4; row++) {
        var s = 0;
        for (var k = 0; k < 4; k++) s += a[k * 4 + row] * b[c * 4 + k];
        r[c * 4 + row] = s;
      }
    }
    return r;
  }

  // ---- the orbiting viewer: a target point, a distance and two angles
  var fovy = ((data.view && data.view.view_angle_deg) || 30) * Math.PI / 180;
  var state = {};
  function aspect() { return Math.max(canvas.clientWidth, 1) / Math.max(canvas.clientHeight, 1); }
  function reset() {
    var v = data.view;
    if (!v) { state = { target: [0, 0, 0], dist: 2 * data.radius, az: 2.356, el: 0.7 }; return; }
    var tanV = Math.tan(fovy / 2) * v.margin[1], tanH = tanV * aspect() * v.margin[0], need = 20;
    for (var i = 0; i < v.across.length; i++) {
      need = Math.max(need, Math.max(v.across[i] / tanH, v.upward[i] / tanV) + v.toward[i]);
    }
    var e = v.eye_direction;
    state = { target: v.center.slice(), dist: need, az: Math.atan2(e[0], e[1]),
              el: Math.asin(e[2]) };
  }
  function eyeDir() {
    var ce = Math.cos(state.el);
    return [Math.sin(state.az) * ce, Math.cos(state.az) * ce, Math.sin(state.el)];
  }

  var labelBox = document.getElementById("labels");
  var labels = data.labels.map(function (l) {
    var d = document.createElement("div");
    d.className = "label";
    d.textContent = l.text;
    labelBox.appendChild(d);
    return { el: d, p: l.position };
  });

  var bg = data.background.map(hexRgb);
  var light = data.light;
  function draw() {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    gl.viewport(0, 0, w, h);

    gl.disable(gl.DEPTH_TEST);
    gl.depthMask(false);
    gl.disable(gl.BLEND);
    gl.useProgram(sky);
    gl.uniform3fv(gl.getUniformLocation(sky, "uTop"), bg[0]);
    gl.uniform3fv(gl.getUniformLocation(sky, "uBottom"), bg[1]);
    gl.bindBuffer(gl.ARRAY_BUFFER, skyBuf);
    gl.enableVertexAttribArray(skyXY);
    gl.vertexAttribPointer(skyXY, 2, gl.FLOAT, false, 0, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    gl.disableVertexAttribArray(skyXY);

    var d = eyeDir();
    var eye = [state.target[0] + state.dist * d[0], state.target[1] + state.dist * d[1],
               state.target[2] + state.dist * d[2]];
    var far = (state.dist + 2.5 * data.radius) * 1.2, near = Math.max(0.05, state.dist / 400);
    var up = Math.abs(d[2]) > 0.999 ? [-d[0], -d[1], 0] : [0, 0, 1];
    var mvp = mul(perspective(fovy, w / h, near, far), lookAt(eye, state.target, up));

    gl.clear(gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    gl.useProgram(mesh);
    gl.uniformMatrix4fv(loc.mvp, false, mvp);
    gl.uniform3fv(loc.eye, eye);
    gl.uniform3fv(loc.sun, light.sun);
    gl.uniform3fv(loc.head, d);
    [loc.pos, loc.nor, loc.col].forEach(function (a) { gl.enableVertexAttribArray(a); });
    [false, true].forEach(function (translucent) {
      gl.depthMask(!translucent);
      if (translucent) {
        gl.enable(gl.BLEND);
        gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      }
      layers.forEach(function (L) {
        if ((L.alpha < 1) !== translucent) return;
        // Faces step back a little so crease lines and the road carpet draw on top.
        if (L.lines) gl.disable(gl.POLYGON_OFFSET_FILL);
        else { gl.enable(gl.POLYGON_OFFSET_FILL); gl.polygonOffset(1, 1); }
        gl.uniform4f(loc.light, L.ambient, L.diffuse, light.sun_intensity,
                     light.headlight_intensity);
        gl.uniform1f(loc.alpha, L.alpha);
        gl.bindBuffer(gl.ARRAY_BUFFER, L.pos);
        gl.vertexAttribPointer(loc.pos, 3, gl.FLOAT, false, 0, 0);
        gl.bindBuffer(gl.ARRAY_BUFFER, L.nor);
        gl.vertexAttribPointer(loc.nor, 3, gl.FLOAT, false, 0, 0);
        gl.bindBuffer(gl.ARRAY_BUFFER, L.col);
        gl.vertexAttribPointer(loc.col, 3, gl.UNSIGNED_BYTE, true, 0, 0);
        gl.drawArrays(L.lines ? gl.LINES : gl.TRIANGLES, 0, L.count);
      });
    });
    [loc.pos, loc.nor, loc.col].forEach(function (a) { gl.disableVertexAttribArray(a); });
    gl.disable(gl.BLEND);
    gl.depthMask(true);

    // Camera ids over their markers; a label that would cover one already placed is hidden.
    var cw = canvas.clientWidth, ch = canvas.clientHeight, placed = [];
    labels.forEach(function (l) {
      var p = l.p, c = [0, 0, 0, 0];
      for (var r = 0; r < 4; r++) {
        c[r] = mvp[r] * p[0] + mvp[4 + r] * p[1] + mvp[8 + r] * p[2] + mvp[12 + r];
      }
      if (c[3] <= near) { l.el.style.display = "none"; return; }
      var x = (c[0] / c[3] + 1) / 2 * cw, y = (1 - c[1] / c[3]) / 2 * ch;
      l.el.style.display = "block";
      var bw = l.el.offsetWidth, bh = l.el.offsetHeight;
      var box = [x - bw / 2, y - bh, x + bw / 2, y];
      var clash = placed.some(function (b) {
        return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3];
      });
      if (clash) { l.el.style.display = "none"; return; }
      placed.push(box);
      l.el.style.left = x.toFixed(1) + "px";
      l.el.style.top = y.toFixed(1) + "px";
    });
    if (data.compass) drawCompass(mvp, near, cw, ch);
  }

  // ---- north arrow and scale bar (lower right), measured at the ground under the view's
  // centre: a perspective picture's scale holds only there, as the label says.
  var compassBox = document.getElementById("compass");
  function el(id) { return document.getElementById(id); }
  function setLine(id, a, b) {
    var L = el(id);
    L.setAttribute("x1", a[0].toFixed(1)); L.setAttribute("y1", a[1].toFixed(1));
    L.setAttribute("x2", b[0].toFixed(1)); L.setAttribute("y2", b[1].toFixed(1));
  }
  function toScreen(mvp, p, cw, ch) {
    var c = [0, 0, 0, 0];
    for (var r = 0; r < 4; r++) {
      c[r] = mvp[r] * p[0] + mvp[4 + r] * p[1] + mvp[8 + r] * p[2] + mvp[12 + r];
    }
    return { x: (c[0] / c[3] + 1) / 2 * cw, y: (1 - c[1] / c[3]) / 2 * ch, w: c[3] };
  }
  function drawCompass(mvp, near, cw, ch) {
    var g = [state.target[0], state.target[1], data.compass.ground_z];
    var step = Math.max(state.dist * 0.01, 0.01);
    var d = eyeDir(), across = unit(cross([-d[0], -d[1], -d[2]], [0, 0, 1]));
    if (Math.abs(d[2]) > 0.999) across = [Math.cos(state.az), -Math.sin(state.az), 0];
    var p0 = toScreen(mvp, g, cw, ch);
    var pn = toScreen(mvp, [g[0], g[1] + step, g[2]], cw, ch);
    var pa = toScreen(mvp, [g[0] + step * across[0], g[1] + step * across[1], g[2]], cw, ch);
    var nx = pn.x - p0.x, ny = pn.y - p0.y, len = Math.sqrt(nx * nx + ny * ny);
    // Behind the eye, or north pointing straight into the screen: no honest arrow to draw.
    var ok = p0.w > near && pn.w > near && pa.w > near && len > 1e-3 * step;
    compassBox.style.visibility = ok ? "visible" : "hidden";
    if (!ok) return;
    nx /= len; ny /= len;
    var cx = 32, cy = 40, half = 24, sx = -ny, sy = nx;
    var tip = [cx + half * nx, cy + half * ny], tail = [cx - half * nx, cy - half * ny];
    setLine("needle", tail, [cx + (half - 10) * nx, cy + (half - 10) * ny]);
    el("needle-head").setAttribute("points", [
      tip, [tip[0] - 12 * nx + 6 * sx, tip[1] - 12 * ny + 6 * sy],
      [tip[0] - 12 * nx - 6 * sx, tip[1] - 12 * ny - 6 * sy]
    ].map(function (q) { return q[0].toFixed(1) + "," + q[1].toFixed(1); }).join(" "));
    el("north").setAttribute("x", (tip[0] + 9 * nx).toFixed(1));
    el("north").setAttribute("y", (tip[1] + 9 * ny).toFixed(1));
    el("north").setAttribute("data-dx", nx.toFixed(4));
    el("north").setAttribute("data-dy", ny.toFixed(4));
    var perM = Math.sqrt((pa.x - p0.x) * (pa.x - p0.x) + (pa.y - p0.y) * (pa.y - p0.y)) / step;
    var steps = data.compass.scale_steps_m, metres = steps[0];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * perM <= data.compass.bar_px[1]) metres = steps[i];
      if (steps[i] * perM >= data.compass.bar_px[0]) break;
    }
    // A bar longer than the box (zoomed in closer than its shortest length) is not drawn.
    var px = metres * perM, x0 = 84, y0 = 48;
    var fits = px <= 180;
    ["scale-bar", "scale-tick0", "scale-tick1", "scale-text"].forEach(function (id) {
      el(id).style.visibility = fits ? "visible" : "hidden";
    });
    setLine("scale-bar", [x0, y0], [x0 + px, y0]);
    setLine("scale-tick0", [x0, y0], [x0, y0 - 6]);
    setLine("scale-tick1", [x0 + px, y0], [x0 + px, y0 - 6]);
    var t = el("scale-text");
    t.setAttribute("x", x0); t.setAttribute("y", y0 + 16);
    t.setAttribute("data-metres", metres); t.setAttribute("data-px", px.toFixed(1));
    t.textContent = metres + " m (at the centre)";
  }

  var queued = false;
  function redraw() {
    if (queued) return;
    queued = true;
    window.requestAnimationFrame(function () { queued = false; draw(); });
  }

  // ---- mouse and touch
  function orbit(dx, dy) {
    state.az -= dx * 0.006;
    state.el = Math.min(1.55, Math.max(-0.2, state.el + dy * 0.006));
  }
  function pan(dx, dy) {
    var d = eyeDir(), right = unit(cross([0, 0, 1], d));
    if (Math.abs(d[2]) > 0.999) right = [Math.cos(state.az), -Math.sin(state.az), 0];
    var up = cross(d, right);
    var s = 2 * state.dist * Math.tan(fovy / 2) / Math.max(canvas.clientHeight, 1);
    for (var i = 0; i < 3; i++) state.target[i] += (-dx * right[i] + dy * up[i]) * s;
  }
  function zoom(factor) {
    state.dist = Math.min(Math.max(state.dist * factor, 0.5), 50 * data.radius + 100);
  }
  var drag = null;
  canvas.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, y: e.clientY, pan: e.button !== 0 || e.shiftKey };
    canvas.classList.add("dragging");
    e.preventDefault();
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX; drag.y = e.clientY;
    if (drag.pan || e.shiftKey) pan(dx, dy); else orbit(dx, dy);
    redraw();
  });
  window.addEventListener("mouseup", function () {
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var step = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    zoom(Math.exp(Math.max(-200, Math.min(200, e.deltaY * step)) * 0.0015));
    redraw();
  }, { passive: false });
  var touch = null;
  function touchInfo(t) {
    if (t.length === 1) return { x: t[0].clientX, y: t[0].clientY, gap: 0, n: 1 };
    var dx = t[0].clientX - t[1].clientX, dy = t[0].clientY - t[1].clientY;
    return { x: (t[0].clientX + t[1].clientX) / 2, y: (t[0].clientY + t[1].clientY) / 2,
             gap: Math.sqrt(dx * dx + dy * dy), n: 2 };
  }
  canvas.addEventListener("touchstart", function (e) {
    touch = touchInfo(e.touches); e.preventDefault();
  }, { passive: false });
  canvas.addEventListener("touchmove", function (e) {
    if (!touch) return;
    var now = touchInfo(e.touches);
    if (now.n === touch.n) {
      if (now.n === 1) orbit(now.x - touch.x, now.y - touch.y);
      else {
        pan(now.x - touch.x, now.y - touch.y);
        if (now.gap > 0 && touch.gap > 0) zoom(touch.gap / now.gap);
      }
      redraw();
    }
    touch = now;
    e.preventDefault();
  }, { passive: false });
  canvas.addEventListener("touchend", function (e) {
    touch = e.touches.length ? touchInfo(e.touches) : null;
  });
  document.getElementById("reset").addEventListener("click", function () { reset(); redraw(); });
  window.addEventListener("resize", redraw);

  reset();
  draw();
})();
"""
