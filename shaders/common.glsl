// Helper functions shared by the library families and the grammar.
// Sections start with "//@ name: dependencies"; a program includes only the sections it
// needs (with their dependencies), so grammar programs stay self-contained and small.
// Hashes are integer (PCG-style) maths only: float-sine hashes differ between CPUs.

//@ hash
// PCG output permutation of one 32-bit state step (O'Neill 2014, "PCG" RXS-M-XS variant).
uint pcg(uint v) {
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}
uint hash_cell(ivec2 c) {
    return pcg(uint(c.x) + pcg(uint(c.y) + pcg(u_seed)));
}
float hash21(ivec2 c) {
    return float(hash_cell(c) >> 8u) * (1.0 / 16777216.0);
}
vec2 hash22(ivec2 c) {
    uint h = hash_cell(c);
    return vec2(float(h >> 8u), float(pcg(h) >> 8u)) * (1.0 / 16777216.0);
}
float hash11(uint v) {
    return float(pcg(v + pcg(u_seed)) >> 8u) * (1.0 / 16777216.0);
}

//@ vnoise: hash
// Value noise in [0, 1], smooth (quintic fade) interpolation of lattice values.
float vnoise(vec2 p) {
    ivec2 i = ivec2(floor(p));
    vec2 f = fract(p);
    vec2 u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0);
    float a = hash21(i), b = hash21(i + ivec2(1, 0));
    float c = hash21(i + ivec2(0, 1)), d = hash21(i + ivec2(1, 1));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

//@ gnoise: hash
// Gradient noise, roughly in [-0.7, 0.7]: random unit gradients at lattice points.
vec2 lattice_gradient(ivec2 c) {
    float a = hash21(c) * 6.2831853;
    return vec2(cos(a), sin(a));
}
float gnoise(vec2 p) {
    ivec2 i = ivec2(floor(p));
    vec2 f = fract(p);
    vec2 u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0);
    float a = dot(lattice_gradient(i), f);
    float b = dot(lattice_gradient(i + ivec2(1, 0)), f - vec2(1.0, 0.0));
    float c = dot(lattice_gradient(i + ivec2(0, 1)), f - vec2(0.0, 1.0));
    float d = dot(lattice_gradient(i + ivec2(1, 1)), f - vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

//@ fbm: vnoise
// Fractional Brownian motion of value noise, in [0, 1]; at most 8 octaves (bounded loop).
float fbm(vec2 p, int octaves, float lacunarity, float gain) {
    float sum = 0.0, amp = 0.5, norm = 0.0;
    mat2 turn = mat2(0.8, 0.6, -0.6, 0.8);
    for (int i = 0; i < 8; i++) {
        if (i >= octaves) break;
        sum += amp * vnoise(p);
        norm += amp;
        p = turn * p * lacunarity + vec2(17.3, 9.1);
        amp *= gain;
    }
    return sum / norm;
}

//@ ridged: gnoise
// Ridged multifractal of gradient noise, in [0, 1]; at most 8 octaves.
float ridged(vec2 p, int octaves, float lacunarity, float gain) {
    float sum = 0.0, amp = 0.5, norm = 0.0, prev = 1.0;
    mat2 turn = mat2(0.6, 0.8, -0.8, 0.6);
    for (int i = 0; i < 8; i++) {
        if (i >= octaves) break;
        float r = 1.0 - abs(gnoise(p) * 1.4);
        r *= r;
        sum += amp * r * prev;
        norm += amp;
        prev = r;
        p = turn * p * lacunarity + vec2(3.7, 21.9);
        amp *= gain;
    }
    return clamp(sum / norm, 0.0, 1.0);
}

//@ voronoi: hash
// Cellular (Worley) distances: x = nearest feature distance F1, y = F2, z = nearest cell's
// random id in [0, 1). jitter in [0, 1] moves feature points away from cell centres.
vec3 voronoi(vec2 p, float jitter) {
    ivec2 cell = ivec2(floor(p));
    vec2 f = fract(p);
    float f1 = 8.0, f2 = 8.0, id = 0.0;
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            ivec2 c = cell + ivec2(i, j);
            vec2 feature = vec2(i, j) + 0.5 + (hash22(c) - 0.5) * jitter;
            float d = length(feature - f);
            if (d < f1) { f2 = f1; f1 = d; id = hash21(c + ivec2(101, 37)); }
            else if (d < f2) { f2 = d; }
        }
    }
    return vec3(f1, f2, id);
}

//@ rot
mat2 rot(float a) {
    float c = cos(a), s = sin(a);
    return mat2(c, s, -s, c);
}

//@ cospal
// Cosine colour palette a + b cos(2 pi (c t + d)) (a standard smooth-palette form).
vec3 cospal(float t, vec3 a, vec3 b, vec3 c, vec3 d) {
    return a + b * cos(6.2831853 * (c * t + d));
}

//@ hsv
vec3 hsv2rgb(vec3 c) {
    vec3 k = clamp(abs(mod(c.x * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
    return c.z * mix(vec3(1.0), k, c.y);
}

//@ tri
// Triangle wave with period 1, in [0, 1].
float tri(float x) {
    return abs(fract(x) - 0.5) * 2.0;
}

//@ kfold
// Fold the plane into n mirrored sectors around the origin (kaleidoscope).
vec2 kfold(vec2 p, float n) {
    float sector = 6.2831853 / n;
    float a = abs(mod(atan(p.y, p.x), sector) - 0.5 * sector);
    return vec2(cos(a), sin(a)) * length(p);
}

//@ truchet: hash
// Quarter-arc Truchet tiles of unit cells: distance to the nearest arc, in [0, 0.5].
float truchet(vec2 p) {
    ivec2 c = ivec2(floor(p));
    vec2 f = fract(p) - 0.5;
    if (hash21(c) < 0.5) f.x = -f.x;
    return min(abs(length(f - 0.5) - 0.5), abs(length(f + 0.5) - 0.5));
}

//@ julia
// Smooth escape-time count of z -> z^2 + c from z = p, divided by the iteration cap.
// The cap is a compile-time bound (at most 64), so every loop terminates.
float julia(vec2 p, vec2 c, int iterations) {
    vec2 z = p;
    float n = 0.0;
    for (int i = 0; i < 64; i++) {
        if (i >= iterations) break;
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        if (dot(z, z) > 64.0) break;
        n += 1.0;
    }
    if (n >= float(iterations)) return 0.0;
    return clamp((n - log2(max(log2(dot(z, z)), 1e-3))) / float(iterations), 0.0, 1.0);
}

//@ sdbox
float sdbox(vec2 p, vec2 half_size) {
    vec2 d = abs(p) - half_size;
    return length(max(d, 0.0)) + min(max(d.x, d.y), 0.0);
}

//@ hexdist
// Distance from p to the centre of its hexagonal cell (unit spacing), in [0, ~0.58].
float hexdist(vec2 p) {
    vec2 s = vec2(1.0, 1.7320508);
    vec2 a = mod(p, s) - 0.5 * s;
    vec2 b = mod(p - 0.5 * s, s) - 0.5 * s;
    vec2 g = dot(a, a) < dot(b, b) ? a : b;
    vec2 h = abs(g);
    return max(dot(h, normalize(s)), h.x);
}
