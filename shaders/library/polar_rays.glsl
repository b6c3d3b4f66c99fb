// polar_rays: sunburst rays and concentric rings in polar coordinates.
vec3 image(vec2 p) {
    vec2 c = (vec2(u_p1.x, u_p1.y) - 0.5) * 0.8;
    vec2 d = p - c;
    float r = length(d);
    float a = atan(d.y, d.x);
    float rays = float(3 + int(u_p0.x * 30.0));
    float rings = mix(2.0, 30.0, u_p0.y);
    float v = 0.5 + 0.5 * sin(a * rays + u_time);
    float w = 0.5 + 0.5 * sin(r * rings - u_time * 2.0);
    return pal(mix(v, v * w, u_p0.z) + r * u_p0.w);
}
