// fbm_clouds: fractional Brownian motion of value noise, mapped through the palette.
vec3 image(vec2 p) {
    float scale = mix(1.5, 8.0, u_p0.x);
    int octaves = 2 + int(u_p0.y * 6.0);
    float gain = mix(0.35, 0.65, u_p0.z);
    vec2 drift = vec2(cos(u_p0.w * 6.28), sin(u_p0.w * 6.28)) * u_time * 0.15;
    float v = fbm(p * scale + drift, octaves, 2.0, gain);
    return pal(v * mix(0.8, 2.5, u_p1.x));
}
